package dev.tollgate.journal;

import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import java.util.zip.CRC32C;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Snapshots of the replayed ledger, so start-up replays only the journal after the newest one.
 * A snapshot is written to a temporary file, forced to disk, then renamed into place (atomic on
 * POSIX file systems), and carries a CRC32C of its contents; one that fails its checksum is ignored
 * and the next older one (or a replay from the first record) is used instead.
 *
 * <pre>
 * magic "TGSNAP05" | lastIndex | maxReservationId | recordsApplied
 * accounts: count, then id, credited, debited, available, reserved, writtenOff
 * keys: count, then hash, displayPrefix, label, accountId, revoked
 * open reservations: count, then id, accountId, keyHash, held, requestId, startMs
 * idempotency keys: count, then each
 * key limits: count, then hash, dayCap, monthCap, totalCap (since "TGSNAP02")
 * key scopes: count, then hash, env, lane, models (count, each), expiresAt, networks (count, each) (since "TGSNAP03")
 * key secrets: count, then hash, then count, then secretHash, displayPrefix, validUntil (since "TGSNAP03")
 * rate limits: count, then subject, id, rpm, tpm, concurrency (since "TGSNAP03")
 * the catalog version last journaled as loaded (since "TGSNAP04")
 * key alerts: count, then hash, percent, dayAlerted, monthAlerted, totalAlerted (since "TGSNAP05")
 * balance alerts: count, then accountId, threshold, raisedCount, raised (since "TGSNAP05")
 * extension: length, bytes (the reconciler's rollups; opaque here)
 * CRC32C of all of the above (int32)
 * </pre>
 *
 * Written as "TGSNAP05"; "TGSNAP04" (read with no soft alerts), "TGSNAP03" (no catalog version either), "TGSNAP02" (no key scopes, secrets or rate
 * limits) and "TGSNAP01" (no key limits either) are still read. A checksum can match a snapshot a bug wrote wrongly,
 * so every count and length is checked against the bytes left before it sizes anything: a bad one is an
 * {@link IOException} and the snapshot is ignored like a damaged one.
 */
public final class Snapshots {
    private static final Logger LOG = LoggerFactory.getLogger(Snapshots.class);
    private static final long MAGIC = 0x544753_4E41_503035L; // "TGSNAP05"
    private static final long MAGIC_04 = 0x544753_4E41_503034L; // "TGSNAP04": no soft alerts
    private static final long MAGIC_03 = 0x544753_4E41_503033L; // "TGSNAP03": no catalog version
    private static final long MAGIC_02 = 0x544753_4E41_503032L; // "TGSNAP02": no key scopes, secrets or rate limits
    /** The format before key limits: read as one without any. */
    private static final long MAGIC_01 = 0x544753_4E41_503031L; // "TGSNAP01"
    private static final String SUFFIX = ".snapshot";
    /** Older snapshots beyond this many are deleted after a new one is written. */
    static final int KEEP = 2;
    /** The largest array a JVM allocates, so the largest snapshot {@link #serialize} can have written. */
    private static final long MAX_BYTES = Integer.MAX_VALUE - 8;

    private Snapshots() {
    }

    /** A snapshot's ledger state and the extension bytes written with it (empty if none). */
    public record Loaded(LedgerState state, byte[] extension, Path file) {
    }

    public static Path write(Path directory, LedgerState state, byte[] extension) {
        try {
            Files.createDirectories(directory);
            byte[] body = serialize(state, extension);
            String name = String.format("ledger-%016x%s", Math.max(0, state.lastIndex()), SUFFIX);
            Path target = directory.resolve(name);
            Path temporary = directory.resolve(name + ".tmp");
            try (FileChannel channel = FileChannel.open(temporary, StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING,
                    StandardOpenOption.WRITE)) {
                ByteBuffer buffer = ByteBuffer.wrap(body);
                while (buffer.hasRemaining()) {
                    channel.write(buffer);
                }
                channel.force(true);
            }
            Files.move(temporary, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            forceDirectory(directory);
            List<Path> all = list(directory);
            for (int i = 0; i < all.size() - KEEP; i++) {
                Files.deleteIfExists(all.get(i));
            }
            return target;
        } catch (IOException e) {
            throw new IllegalStateException("cannot write a snapshot in " + directory + ": " + e.getMessage(), e);
        }
    }

    /**
     * The newest snapshot that passes its checksum, or null (none, or no such directory).
     *
     * @throws UncheckedIOException when the directory exists but cannot be listed
     */
    public static Loaded latest(Path directory) {
        if (!Files.isDirectory(directory)) {
            return null;
        }
        List<Path> all = list(directory);
        for (int i = all.size() - 1; i >= 0; i--) {
            try {
                return read(all.get(i));
            } catch (IOException | RuntimeException e) {
                LOG.warn("ignoring snapshot {}: {}", all.get(i), e.getMessage());
            }
        }
        return null;
    }

    /**
     * Renames a snapshot that must never be used again (it no longer ends with {@code .snapshot}, so
     * {@link #latest} skips it) and keeps it for the operator to look at.
     */
    static void setAside(Path file, String why) {
        Path target = file.resolveSibling(file.getFileName() + ".ahead-of-journal");
        LOG.warn("setting aside snapshot {} ({}): it covers records the journal does not have", file, why);
        try {
            Files.move(file, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            forceDirectory(file.getParent());
        } catch (IOException e) {
            throw new IllegalStateException("cannot set aside the snapshot " + file + ", which is ahead of the journal: " + e.getMessage(), e);
        }
    }

    static Loaded read(Path file) throws IOException {
        // No snapshot is this large (serialize builds it in one array); Files.readAllBytes would throw OutOfMemoryError.
        long size = Files.size(file);
        if (size > MAX_BYTES) {
            throw new IOException("too large to be a snapshot: " + size + " bytes");
        }
        byte[] bytes = Files.readAllBytes(file);
        if (bytes.length < 12) {
            throw new IOException("truncated");
        }
        CRC32C crc = new CRC32C();
        crc.update(bytes, 0, bytes.length - 4);
        if ((int) crc.getValue() != ByteBuffer.wrap(bytes, bytes.length - 4, 4).getInt()) {
            throw new IOException("checksum mismatch");
        }
        DataInputStream in = new DataInputStream(new java.io.ByteArrayInputStream(bytes, 0, bytes.length - 4));
        try {
            return read(in, file);
        } catch (EOFException e) {
            throw new IOException("ends in the middle of a field (truncated, or a count is wrong)", e);
        }
    }

    private static Loaded read(DataInputStream in, Path file) throws IOException {
        long magic = in.readLong();
        if (magic != MAGIC && magic != MAGIC_04 && magic != MAGIC_03 && magic != MAGIC_02 && magic != MAGIC_01) {
            throw new IOException("not a Tollgate snapshot");
        }
        LedgerState state = new LedgerState();
        long lastIndex = in.readLong();
        long maxReservationId = in.readLong();
        long recordsApplied = in.readLong();
        for (int n = count(in, "account count"); n > 0; n--) {
            state.restoreAccount(in.readUTF(), in.readLong(), in.readLong(), in.readLong(), in.readLong(), in.readLong());
        }
        for (int n = count(in, "key count"); n > 0; n--) {
            state.restoreKey(new LedgerState.Key(in.readUTF(), in.readUTF(), in.readUTF(), in.readUTF(), in.readBoolean()));
        }
        for (int n = count(in, "open reservation count"); n > 0; n--) {
            state.restoreOpen(new LedgerState.OpenReservation(in.readLong(), in.readUTF(), in.readUTF(), in.readLong(), in.readUTF(), in.readLong()));
        }
        for (int n = count(in, "idempotency key count"); n > 0; n--) {
            state.appliedIdempotencyKeys().add(in.readUTF());
        }
        if (magic != MAGIC_01) {
            for (int n = count(in, "key limits count"); n > 0; n--) {
                state.restoreKeyLimits(new LedgerState.KeyLimits(in.readUTF(), in.readLong(), in.readLong(), in.readLong()));
            }
        }
        if (magic == MAGIC || magic == MAGIC_04 || magic == MAGIC_03) {
            for (int n = count(in, "key scope count"); n > 0; n--) {
                state.restoreKeyScope(new LedgerState.KeyScopeRecord(in.readUTF(), in.readUTF(), in.readUTF(), readStrings(in), in.readLong(),
                        readStrings(in)));
            }
            for (int n = count(in, "key secrets count"); n > 0; n--) {
                String keyHash = in.readUTF();
                List<LedgerState.Secret> secrets = new ArrayList<>();
                for (int s = count(in, "secret count of a key"); s > 0; s--) {
                    secrets.add(new LedgerState.Secret(in.readUTF(), in.readUTF(), in.readLong()));
                }
                state.restoreKeySecrets(keyHash, secrets);
            }
            for (int n = count(in, "rate limits count"); n > 0; n--) {
                state.restoreRateLimits(new LedgerState.RateLimits(in.readInt(), in.readUTF(), in.readLong(), in.readLong(), in.readLong()));
            }
        }
        if (magic == MAGIC || magic == MAGIC_04) {
            state.restoreCatalogVersion(in.readUTF());
        }
        if (magic == MAGIC) {
            for (int n = count(in, "key alerts count"); n > 0; n--) {
                state.restoreKeyAlerts(new LedgerState.KeyAlerts(in.readUTF(), in.readInt(), in.readInt(), in.readInt(), in.readBoolean()));
            }
            for (int n = count(in, "balance alerts count"); n > 0; n--) {
                state.restoreBalanceAlert(new LedgerState.BalanceAlert(in.readUTF(), in.readLong(), in.readInt(), in.readBoolean()));
            }
        }
        byte[] extension = new byte[count(in, "extension length")];
        in.readFully(extension);
        if (in.available() > 0) {
            throw new IOException(in.available() + " bytes after the extension, which ends every snapshot");
        }
        state.restorePosition(lastIndex, maxReservationId, recordsApplied);
        return new Loaded(state, extension, file);
    }

    static byte[] serialize(LedgerState state, byte[] extension) throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream(4096);
        DataOutputStream out = new DataOutputStream(bytes);
        out.writeLong(MAGIC);
        out.writeLong(state.lastIndex());
        out.writeLong(state.maxReservationId());
        out.writeLong(state.recordsApplied());
        out.writeInt(state.accounts().size());
        for (LedgerState.Account account : state.accounts()) {
            out.writeUTF(account.id());
            out.writeLong(account.creditedMicros());
            out.writeLong(account.debitedMicros());
            out.writeLong(account.availableMicros());
            out.writeLong(account.reservedMicros());
            out.writeLong(account.writtenOffMicros());
        }
        out.writeInt(state.keys().size());
        for (LedgerState.Key key : state.keys()) {
            out.writeUTF(key.keyHash());
            out.writeUTF(key.displayPrefix());
            out.writeUTF(key.label());
            out.writeUTF(key.accountId());
            out.writeBoolean(key.revoked());
        }
        out.writeInt(state.openReservations().size());
        for (LedgerState.OpenReservation reservation : state.openReservations()) {
            out.writeLong(reservation.reservationId());
            out.writeUTF(reservation.accountId());
            out.writeUTF(reservation.keyHash());
            out.writeLong(reservation.heldMicros());
            out.writeUTF(reservation.requestId());
            out.writeLong(reservation.startMs());
        }
        out.writeInt(state.appliedIdempotencyKeys().size());
        for (String key : state.appliedIdempotencyKeys()) {
            out.writeUTF(key);
        }
        out.writeInt(state.keyLimits().size());
        for (LedgerState.KeyLimits limits : state.keyLimits()) {
            out.writeUTF(limits.keyHash());
            out.writeLong(limits.dayCapMicros());
            out.writeLong(limits.monthCapMicros());
            out.writeLong(limits.totalCapMicros());
        }
        out.writeInt(state.keyScopes().size());
        for (LedgerState.KeyScopeRecord scope : state.keyScopes()) {
            out.writeUTF(scope.keyHash());
            out.writeUTF(scope.env());
            out.writeUTF(scope.lane());
            writeStrings(out, scope.models());
            out.writeLong(scope.expiresAtMs());
            writeStrings(out, scope.networks());
        }
        out.writeInt(state.keySecrets().size());
        for (var entry : state.keySecrets().entrySet()) {
            out.writeUTF(entry.getKey());
            out.writeInt(entry.getValue().size());
            for (LedgerState.Secret secret : entry.getValue()) {
                out.writeUTF(secret.secretHash());
                out.writeUTF(secret.displayPrefix());
                out.writeLong(secret.validUntilMs());
            }
        }
        out.writeInt(state.rateLimits().size());
        for (LedgerState.RateLimits limits : state.rateLimits()) {
            out.writeInt(limits.subject());
            out.writeUTF(limits.id());
            out.writeLong(limits.rpm());
            out.writeLong(limits.tpm());
            out.writeLong(limits.concurrency());
        }
        out.writeUTF(state.catalogVersion());
        out.writeInt(state.keyAlerts().size());
        for (LedgerState.KeyAlerts alerts : state.keyAlerts()) {
            out.writeUTF(alerts.keyHash());
            out.writeInt(alerts.percent());
            out.writeInt(alerts.dayAlerted());
            out.writeInt(alerts.monthAlerted());
            out.writeBoolean(alerts.totalAlerted());
        }
        out.writeInt(state.balanceAlerts().size());
        for (LedgerState.BalanceAlert alert : state.balanceAlerts()) {
            out.writeUTF(alert.accountId());
            out.writeLong(alert.thresholdMicros());
            out.writeInt(alert.raisedCount());
            out.writeBoolean(alert.raised());
        }
        byte[] ext = extension == null ? new byte[0] : extension;
        out.writeInt(ext.length);
        out.write(ext);
        out.flush();
        CRC32C crc = new CRC32C();
        crc.update(bytes.toByteArray());
        out.writeInt((int) crc.getValue());
        return bytes.toByteArray();
    }

    /**
     * A count or length as written, refused when negative or larger than the bytes left (every element takes at least
     * one): a corrupt one must neither size an array nor run a loop long past the end of the file.
     */
    private static int count(DataInputStream in, String what) throws IOException {
        int count = in.readInt();
        int left = in.available();
        if (count < 0 || count > left) {
            throw new IOException("corrupt " + what + ": " + count + (count < 0 ? "" : ", with only " + left + " bytes left"));
        }
        return count;
    }

    private static void writeStrings(DataOutputStream out, List<String> values) throws IOException {
        out.writeInt(values.size());
        for (String value : values) {
            out.writeUTF(value);
        }
    }

    private static List<String> readStrings(DataInputStream in) throws IOException {
        List<String> values = new ArrayList<>();
        for (int n = count(in, "list length"); n > 0; n--) {
            values.add(in.readUTF());
        }
        return values;
    }

    /**
     * The snapshot files, oldest first. A directory that cannot be listed is an error, not an empty
     * one: "no snapshot" would send recovery to replay from the first record, which is wrong once
     * cycles were archived and slow otherwise, and would let {@link #write} keep every old snapshot.
     */
    private static List<Path> list(Path directory) {
        try (Stream<Path> files = Files.list(directory)) {
            return new ArrayList<>(files.filter(path -> path.getFileName().toString().endsWith(SUFFIX)).sorted().toList());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot list the snapshots in " + directory + ": " + e, e);
        } catch (UncheckedIOException e) {
            throw new UncheckedIOException("cannot list the snapshots in " + directory + ": " + e.getCause(), e.getCause());
        }
    }

    private static void forceDirectory(Path directory) {
        try (FileChannel channel = FileChannel.open(directory, StandardOpenOption.READ)) {
            channel.force(true);
        } catch (IOException e) {
            // Not every file system lets a directory be opened for fsync; the rename is still atomic.
        }
    }
}
