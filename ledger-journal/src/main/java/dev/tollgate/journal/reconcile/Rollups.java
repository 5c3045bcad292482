package dev.tollgate.journal.reconcile;

import dev.tollgate.journal.JournalEvent;
import dev.tollgate.journal.JournalEvent.Adjusted;
import dev.tollgate.journal.JournalEvent.CreditAdded;
import dev.tollgate.journal.JournalEvent.Released;
import dev.tollgate.journal.JournalEvent.RequestFacts;
import dev.tollgate.journal.JournalEvent.Settled;
import dev.tollgate.metering.Usage;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.BiConsumer;

/**
 * The reconciler's aggregates of the journal, kept beside its replayed ledger and persisted with it
 * in the snapshot's extension bytes:
 * <ul>
 *   <li>hourly usage rows per account, key, model row (provider + model), price set, lane and price multiplier ({@link RollupKey},
 *       {@link UsageTotals});</li>
 *   <li>every credit and adjustment of every account, one entry each (statements list them, and
 *       they must survive the archiving of the journal cycles that held them).</li>
 * </ul>
 * Not thread-safe: {@link Reconciler} guards it. Iteration orders are fixed (sorted maps, lists in
 * journal order), so two rollups built from the same records serialize to the same bytes.
 *
 * <pre>
 * magic "TGROLL04" (int64); "TGROLL03" is read too: the same without direct and directMicros (every row prepaid);
 *   "TGROLL02": without priceMultiplierBps either, which reads as 10000; and "TGROLL01": without rowVersion either, which
 *   reads as empty
 * newestTimestampMs (int64)
 * accounts: count (int32), then per account, in id order:
 *   id (UTF), credits: count, then index, timestampMs, amountMicros (int64 x 3), idempotencyKey (UTF)
 *             adjustments: count, then index, timestampMs, amountMicros (int64 x 3), reason, idempotencyKey (UTF x 2)
 * hourly rows: count (int32), then per row, in key order:
 *   accountId (UTF), hourStartMs (int64), keyHash, provider, model, rowVersion, lane (UTF x 5), priceMultiplierBps (int32),
 *   direct (boolean), the ten totals (int64 x 10)
 * </pre>
 */
public final class Rollups {
    static final long MAGIC = 0x5447_524F_4C4C_3034L; // "TGROLL04"
    /** Rollups written before direct billing: still read, every row prepaid with no direct spend. */
    static final long MAGIC_WITHOUT_DIRECT = 0x5447_524F_4C4C_3033L; // "TGROLL03"
    /** Rollups written before keys named the lane's price multiplier: still read, every row at 10000 (the list price). */
    static final long MAGIC_WITHOUT_MULTIPLIER = 0x5447_524F_4C4C_3032L; // "TGROLL02"
    /** Rollups written before keys named the row version: still read, so an upgrade need not replay the journal. */
    static final long MAGIC_WITHOUT_ROW_VERSION = 0x5447_524F_4C4C_3031L; // "TGROLL01"

    private static final int REQUESTS = 0;
    private static final int RELEASED = 1;
    private static final int INPUT = 2;
    private static final int CACHE_READ = 3;
    private static final int CACHE_WRITE = 4;
    private static final int OUTPUT = 5;
    private static final int REASONING = 6;
    private static final int DEBITED = 7;
    private static final int WRITTEN_OFF = 8;
    private static final int DIRECT = 9;
    private static final int FIELDS = 10;
    /** The totals of rollups written before direct billing ({@link #MAGIC_WITHOUT_DIRECT} and older). */
    private static final int FIELDS_WITHOUT_DIRECT = 9;

    /** A credit (top-up or opening credit) as a statement lists it. */
    public record CreditEntry(long index, long timestampMs, long amountMicros, String idempotencyKey) {
    }

    /** An operator's adjustment as a statement lists it, with its reason. */
    public record AdjustmentEntry(long index, long timestampMs, long amountMicros, String reason, String idempotencyKey) {
    }

    private static final class History {
        final List<CreditEntry> credits = new ArrayList<>();
        final List<AdjustmentEntry> adjustments = new ArrayList<>();
    }

    private final TreeMap<RollupKey, long[]> hourly = new TreeMap<>();
    private final TreeMap<String, History> histories = new TreeMap<>();
    private long newestTimestampMs = -1;

    /**
     * Adds one journal record. {@code moneyApplied} says whether a credit or adjustment changed the
     * ledger (false for a repeated idempotency key, which the ledger ignores, so the statement must too).
     * The caller passes each record once: {@link Reconciliation#apply} does the at-least-once filtering.
     */
    void record(long index, JournalEvent event, boolean moneyApplied) {
        newestTimestampMs = Math.max(newestTimestampMs, event.timestampMs());
        switch (event.change()) {
            case CreditAdded e -> {
                if (moneyApplied) {
                    history(e.accountId()).credits.add(new CreditEntry(index, e.timestampMs(), e.amountMicros(), dev.tollgate.journal.Ledger.reference(e.idempotencyKey())));
                }
            }
            case Adjusted e -> {
                if (moneyApplied) {
                    history(e.accountId()).adjustments.add(new AdjustmentEntry(index, e.timestampMs(), e.amountMicros(), e.reason(),
                            dev.tollgate.journal.Ledger.reference(e.idempotencyKey())));
                }
            }
            case Settled e -> {
                long[] row = row(e.timestampMs(), e.request());
                Usage usage = e.usage();
                row[REQUESTS]++;
                row[INPUT] = Math.addExact(row[INPUT], usage.inputTokens());
                row[CACHE_READ] = Math.addExact(row[CACHE_READ], usage.cacheReadTokens());
                row[CACHE_WRITE] = Math.addExact(row[CACHE_WRITE], usage.cacheWriteTokens());
                row[OUTPUT] = Math.addExact(row[OUTPUT], usage.outputTokens());
                row[REASONING] = Math.addExact(row[REASONING], usage.reasoningTokens());
                row[DEBITED] = Math.addExact(row[DEBITED], e.debitedMicros());
                row[WRITTEN_OFF] = Math.addExact(row[WRITTEN_OFF], e.writtenOffMicros());
                if (e.request().direct()) {
                    row[DIRECT] = Math.addExact(row[DIRECT], e.request().directCostMicros());
                }
            }
            case Released e -> row(e.timestampMs(), e.request())[RELEASED]++;
            default -> {
                // Openings, keys, reservations and extensions move no money between credited and debited.
            }
        }
    }

    private History history(String accountId) {
        return histories.computeIfAbsent(accountId, id -> new History());
    }

    private long[] row(long timestampMs, RequestFacts facts) {
        RollupKey key = new RollupKey(facts.accountId(), RollupKey.hourOf(timestampMs), facts.keyHash(), facts.provider(), facts.model(),
                facts.rowVersion(), facts.lane(), facts.priceMultiplierBps(), facts.direct());
        return hourly.computeIfAbsent(key, k -> new long[FIELDS]);
    }

    /** The timestamp of the newest record applied (records are not always appended in timestamp order), or -1. */
    public long newestTimestampMs() {
        return newestTimestampMs;
    }

    public int hourlyRowCount() {
        return hourly.size();
    }

    public List<CreditEntry> credits(String accountId) {
        History history = histories.get(accountId);
        return history == null ? List.of() : Collections.unmodifiableList(history.credits);
    }

    public List<AdjustmentEntry> adjustments(String accountId) {
        History history = histories.get(accountId);
        return history == null ? List.of() : Collections.unmodifiableList(history.adjustments);
    }

    /**
     * Visits the hourly rows of one account (every account when null) whose hour starts in
     * [fromMs, toMs), in key order.
     */
    public void forEachRow(String accountId, long fromMs, long toMs, BiConsumer<RollupKey, UsageTotals> visitor) {
        long from = Math.max(0, fromMs); // timestamps are never negative
        if (from >= toMs) {
            return;
        }
        if (accountId == null) {
            for (Map.Entry<RollupKey, long[]> entry : hourly.entrySet()) {
                long hour = entry.getKey().hourStartMs();
                if (hour >= from && hour < toMs) {
                    visitor.accept(entry.getKey(), totals(entry.getValue()));
                }
            }
            return;
        }
        // An account's rows are contiguous and ordered by hour: start at the first hour in range, stop at the first beyond it.
        long firstHour = RollupKey.hourOf(from);
        for (Map.Entry<RollupKey, long[]> entry : hourly.tailMap(RollupKey.lowest(accountId, firstHour), true).entrySet()) {
            RollupKey key = entry.getKey();
            if (!key.accountId().equals(accountId) || key.hourStartMs() >= toMs) {
                return;
            }
            if (key.hourStartMs() >= from) {
                visitor.accept(key, totals(entry.getValue()));
            }
        }
    }

    private static UsageTotals totals(long[] row) {
        return new UsageTotals(row[REQUESTS], row[RELEASED], row[INPUT], row[CACHE_READ], row[CACHE_WRITE], row[OUTPUT], row[REASONING],
                row[DEBITED], row[WRITTEN_OFF], row[DIRECT]);
    }

    /** The persisted form (layout in the class comment); equal rollups give equal bytes. */
    public byte[] serialize() {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream(1024 + hourly.size() * 160);
        try (DataOutputStream out = new DataOutputStream(bytes)) {
            out.writeLong(MAGIC);
            out.writeLong(newestTimestampMs);
            out.writeInt(histories.size());
            for (Map.Entry<String, History> entry : histories.entrySet()) {
                out.writeUTF(entry.getKey());
                History history = entry.getValue();
                out.writeInt(history.credits.size());
                for (CreditEntry credit : history.credits) {
                    out.writeLong(credit.index());
                    out.writeLong(credit.timestampMs());
                    out.writeLong(credit.amountMicros());
                    out.writeUTF(credit.idempotencyKey());
                }
                out.writeInt(history.adjustments.size());
                for (AdjustmentEntry adjustment : history.adjustments) {
                    out.writeLong(adjustment.index());
                    out.writeLong(adjustment.timestampMs());
                    out.writeLong(adjustment.amountMicros());
                    out.writeUTF(adjustment.reason());
                    out.writeUTF(adjustment.idempotencyKey());
                }
            }
            out.writeInt(hourly.size());
            for (Map.Entry<RollupKey, long[]> entry : hourly.entrySet()) {
                RollupKey key = entry.getKey();
                out.writeUTF(key.accountId());
                out.writeLong(key.hourStartMs());
                out.writeUTF(key.keyHash());
                out.writeUTF(key.provider());
                out.writeUTF(key.model());
                out.writeUTF(key.rowVersion());
                out.writeUTF(key.lane());
                out.writeInt(key.priceMultiplierBps());
                out.writeBoolean(key.direct());
                for (long value : entry.getValue()) {
                    out.writeLong(value);
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e); // a byte array does not fail
        }
        return bytes.toByteArray();
    }

    /** True when {@code bytes} start like serialized rollups (a snapshot written by a reconciler). */
    public static boolean isRollups(byte[] bytes) {
        long magic = magicOf(bytes);
        return magic == MAGIC || magic == MAGIC_WITHOUT_DIRECT || magic == MAGIC_WITHOUT_MULTIPLIER || magic == MAGIC_WITHOUT_ROW_VERSION;
    }

    private static long magicOf(byte[] bytes) {
        if (bytes == null || bytes.length < Long.BYTES) {
            return 0;
        }
        long magic = 0;
        for (int i = 0; i < Long.BYTES; i++) {
            magic = (magic << 8) | (bytes[i] & 0xFF);
        }
        return magic;
    }

    /** Reads what {@link #serialize()} wrote; the snapshot's checksum already vouches for the bytes, this checks the shape. */
    public static Rollups deserialize(byte[] bytes) {
        if (!isRollups(bytes)) {
            throw new IllegalArgumentException("not serialized rollups");
        }
        Rollups rollups = new Rollups();
        long magic = magicOf(bytes);
        boolean withRowVersion = magic != MAGIC_WITHOUT_ROW_VERSION;
        boolean withMultiplier = magic == MAGIC || magic == MAGIC_WITHOUT_DIRECT;
        boolean withDirect = magic == MAGIC;
        try (DataInputStream in = new DataInputStream(new ByteArrayInputStream(bytes))) {
            in.readLong();
            rollups.newestTimestampMs = in.readLong();
            for (int accounts = in.readInt(); accounts > 0; accounts--) {
                History history = rollups.history(in.readUTF());
                for (int n = in.readInt(); n > 0; n--) {
                    history.credits.add(new CreditEntry(in.readLong(), in.readLong(), in.readLong(), in.readUTF()));
                }
                for (int n = in.readInt(); n > 0; n--) {
                    history.adjustments.add(new AdjustmentEntry(in.readLong(), in.readLong(), in.readLong(), in.readUTF(), in.readUTF()));
                }
            }
            for (int rows = in.readInt(); rows > 0; rows--) {
                RollupKey key = new RollupKey(in.readUTF(), in.readLong(), in.readUTF(), in.readUTF(), in.readUTF(),
                        withRowVersion ? in.readUTF() : "", in.readUTF(), withMultiplier ? in.readInt() : RequestFacts.NO_MULTIPLIER_BPS,
                        withDirect && in.readBoolean());
                long[] row = new long[FIELDS];
                for (int i = 0; i < (withDirect ? FIELDS : FIELDS_WITHOUT_DIRECT); i++) {
                    row[i] = in.readLong();
                }
                rollups.hourly.put(key, row);
            }
            if (in.available() != 0) {
                throw new IllegalArgumentException("serialized rollups: " + in.available() + " bytes after the last row");
            }
        } catch (IOException e) {
            throw new IllegalArgumentException("serialized rollups are truncated: " + e.getMessage(), e);
        }
        return rollups;
    }
}
