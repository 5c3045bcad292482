package dev.tollgate.journal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tollgate.config.Durability;
import dev.tollgate.journal.JournalEvent.AccountOpened;
import dev.tollgate.journal.JournalEvent.CreditAdded;
import dev.tollgate.journal.JournalEvent.KeyIssued;
import dev.tollgate.journal.JournalEvent.Released;
import dev.tollgate.journal.JournalEvent.ReservationMade;
import dev.tollgate.journal.JournalEvent.Settled;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import net.openhft.chronicle.queue.ChronicleQueue;
import net.openhft.chronicle.queue.ExcerptAppender;
import net.openhft.chronicle.queue.RollCycles;
import net.openhft.chronicle.queue.impl.single.SingleChronicleQueueBuilder;
import net.openhft.chronicle.wire.DocumentContext;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The journal as files on disk: concurrent appends, reading from a position, named cursors, damage and a writer killed mid-record. */
class JournalOnDiskTest {
    private static final long NOW_MS = 1_795_000_000_000L;
    private static final String KEY_HASH = "5e".repeat(32);

    @TempDir
    Path directory;

    record Read(long index, JournalEvent event) {
    }

    static List<Read> readAll(Journal journal) {
        List<Read> records = new ArrayList<>();
        journal.readAfter(-1, (index, event) -> records.add(new Read(index, event)));
        return records;
    }

    @Test
    void appendsFromSeveralThreadsAtOnceReadBackCompleteInOrderWithDistinctIndexes() throws Exception {
        int threads = 4;
        int perThread = 2_500;
        Map<JournalEvent, Long> indexOfEvent = new ConcurrentHashMap<>();
        try (Journal journal = Journal.open(directory, Durability.PAGE_CACHE, 100)) {
            CountDownLatch start = new CountDownLatch(1);
            List<Thread> writers = new ArrayList<>();
            List<Throwable> failures = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                int thread = t;
                writers.add(Thread.ofPlatform().name("appender-" + t).start(() -> {
                    try {
                        start.await();
                        for (int i = 0; i < perThread; i++) {
                            JournalEvent event = new CreditAdded(NOW_MS + i, "account-" + thread, i + 1, "t" + thread + "-" + i);
                            indexOfEvent.put(event, journal.append(event));
                        }
                    } catch (Throwable e) {
                        synchronized (failures) {
                            failures.add(e);
                        }
                    }
                }));
            }
            start.countDown();
            for (Thread writer : writers) {
                writer.join(TimeUnit.MINUTES.toMillis(1));
            }
            assertThat(failures).isEmpty();

            List<Read> records = readAll(journal);
            assertThat(records).hasSize(threads * perThread);
            int[] nextOfThread = new int[threads];
            long previous = -1;
            for (Read record : records) {
                assertThat(record.index()).as("indexes strictly increase").isGreaterThan(previous);
                previous = record.index();
                CreditAdded credit = (CreditAdded) record.event();
                int thread = Integer.parseInt(credit.accountId().substring("account-".length()));
                // Each thread's records appear in the order that thread appended them.
                assertThat(credit.idempotencyKey()).isEqualTo("t" + thread + "-" + nextOfThread[thread]++);
                assertThat(record.index()).as("the index append returned").isEqualTo(indexOfEvent.get(credit));
            }
            assertThat(nextOfThread).containsOnly(perThread);
            assertThat(journal.lastIndex()).isEqualTo(previous);
            assertThat(journal.firstIndex()).isEqualTo(records.getFirst().index());
        }
    }

    @Test
    void readAfterAnIndexReadsExactlyTheRecordsAfterIt() {
        try (Journal journal = Journal.open(directory, Durability.PAGE_CACHE, 100)) {
            List<Long> indexes = new ArrayList<>();
            indexes.add(journal.append(new AccountOpened(NOW_MS, "acme")));
            for (int i = 0; i < 99; i++) {
                indexes.add(journal.append(new CreditAdded(NOW_MS, "acme", i + 1, "top-up-" + i)));
            }
            for (int position : new int[] {0, 1, 37, 98, 99}) {
                List<Read> after = new ArrayList<>();
                long count = journal.readAfter(indexes.get(position), (index, event) -> after.add(new Read(index, event)));
                assertThat(count).isEqualTo(indexes.size() - 1 - position);
                assertThat(after).extracting(Read::index).containsExactlyElementsOf(indexes.subList(position + 1, indexes.size()));
                if (!after.isEmpty()) {
                    assertThat(((CreditAdded) after.getFirst().event()).amountMicros()).isEqualTo(position + 1);
                }
            }
            assertThat(journal.readAfter(-1, (index, event) -> { })).isEqualTo(100);
            // An index past the end (a snapshot taken of records a machine crash then lost, a typo in
            // an operator's command) has nothing after it: it must not restart from the first record.
            long last = journal.lastIndex();
            assertThat(journal.readAfter(last + 1, (index, event) -> { })).isZero();
            assertThat(journal.readAfter(last + 1_000, (index, event) -> { })).isZero();
            assertThat(journal.readAfter(last + (1L << 32), (index, event) -> { })).as("an index in a later cycle").isZero();
        }
    }

    @Test
    void thePeriodicSyncForcesTheNewCyclesFileOnceItExistsWithoutListingTheDirectoryEachTime() {
        java.util.concurrent.atomic.AtomicLong clock = new java.util.concurrent.atomic.AtomicLong(NOW_MS);
        try (Journal journal = Journal.open(directory, Durability.PERIODIC, 3_600_000, clock::get)) {
            journal.append(new AccountOpened(NOW_MS, "acme"));
            journal.forceNewestCycles();
            assertThat(journal.forcedCycleFiles()).containsExactlyElementsOf(journal.cycleFiles());
            List<Path> dayOne = journal.forcedCycleFiles();

            clock.addAndGet(java.util.concurrent.TimeUnit.DAYS.toMillis(1)); // midnight passes; no record yet
            journal.forceNewestCycles();
            journal.append(new CreditAdded(clock.get(), "acme", 5, "next-day"));
            journal.forceNewestCycles();
            assertThat(journal.cycleFiles()).hasSize(2);
            assertThat(journal.forcedCycleFiles()).as("the new day's file, once written").containsExactlyElementsOf(journal.cycleFiles());

            List<Path> listed = journal.forcedCycleFiles();
            journal.append(new CreditAdded(clock.get(), "acme", 6, "same-day"));
            journal.forceNewestCycles();
            assertThat(journal.forcedCycleFiles()).as("no new listing while no new cycle starts").isSameAs(listed);
            assertThat(dayOne).hasSize(1);
        }
    }

    @Test
    void aNamedCursorKeepsItsPositionAcrossClosingAndReopeningTheJournal() {
        List<Long> indexes = new ArrayList<>();
        try (Journal journal = Journal.open(directory, Durability.PERIODIC, 50)) {
            indexes.add(journal.append(new AccountOpened(NOW_MS, "acme")));
            for (int i = 0; i < 9; i++) {
                indexes.add(journal.append(new CreditAdded(NOW_MS, "acme", 10 + i, "k" + i)));
            }
            try (Journal.Cursor cursor = journal.cursor("reconciler")) {
                List<Long> seen = new ArrayList<>();
                assertThat(cursor.read(4, (index, event) -> seen.add(index))).isEqualTo(4);
                assertThat(seen).containsExactlyElementsOf(indexes.subList(0, 4));
            }
            // An unnamed cursor starts at the beginning and does not move the named one.
            try (Journal.Cursor anonymous = journal.cursor(null)) {
                assertThat(anonymous.read(100, (index, event) -> { })).isEqualTo(10);
            }
        }
        try (Journal journal = Journal.open(directory, Durability.PERIODIC, 50)) {
            indexes.add(journal.append(new CreditAdded(NOW_MS, "acme", 99, "after-reopen")));
            try (Journal.Cursor cursor = journal.cursor("reconciler")) {
                List<Long> seen = new ArrayList<>();
                assertThat(cursor.read(100, (index, event) -> seen.add(index))).isEqualTo(7);
                assertThat(seen).containsExactlyElementsOf(indexes.subList(4, indexes.size()));
                assertThat(cursor.read(100, (index, event) -> { })).as("caught up").isZero();
            }
            try (Journal.Cursor other = journal.cursor("statements")) {
                assertThat(other.read(100, (index, event) -> { })).as("another name starts at the beginning").isEqualTo(11);
            }
        }
    }

    @Test
    void aDamagedTailRecordStopsTheReadWithAnErrorNamingItsIndex() throws IOException {
        Settled last = JournalCodecTest.typicalSettlement(2, "acme", KEY_HASH, NOW_MS + 777);
        long lastIndex;
        try (Journal journal = Journal.open(directory, Durability.PAGE_CACHE, 100)) {
            journal.append(new AccountOpened(NOW_MS, "acme"));
            journal.append(new CreditAdded(NOW_MS, "acme", 1_000_000, "opening"));
            journal.append(new KeyIssued(NOW_MS, KEY_HASH, "tg-abcd...", "ci", "acme"));
            journal.append(new ReservationMade(NOW_MS, 2, "acme", KEY_HASH, 5_000, "tg_req_a55725bc8477dacf"));
            lastIndex = journal.append(last);
        }
        // Find the last record's bytes in the cycle file: the payload is written verbatim after
        // Chronicle's 4-byte document header.
        Path cycle = onlyCycleFile();
        byte[] record = JournalCodecTest.encode(last);
        long recordOffset = offsetOf(cycle, record);
        assertThat(recordOffset).as("the record is in the file once").isPositive();

        // Damage one byte at a time (type, version, body length, timestamp, the debit amount, the
        // checksum), each time checking the read refuses it, then restore the byte.
        int debitedOffset = record.length - JournalCodec.CHECKSUM_LENGTH - (2 + "completed".length()) - 16;
        for (int offset : new int[] {0, 1, 2, 4, record.length / 2, debitedOffset, record.length - 1}) {
            xorByte(cycle, recordOffset + offset, 0x10);
            try (Journal journal = Journal.open(directory, Durability.PAGE_CACHE, 100)) {
                List<Read> read = new ArrayList<>();
                int damagedAt = offset;
                assertThatThrownBy(() -> journal.readAfter(-1, (index, event) -> read.add(new Read(index, event))))
                        .as("byte %d of the record damaged", damagedAt)
                        .isInstanceOf(JournalFormatException.class)
                        .hasMessageContaining("record at index " + Long.toHexString(lastIndex));
                assertThat(read).as("the records before it are read").hasSize(4);
                assertThat(read).extracting(Read::event).doesNotHaveAnyElementsOfTypes(Settled.class);
                // Recovery refuses to start on it rather than rebuild balances without that debit.
                assertThatThrownBy(() -> Ledger.recover(journal, null, 16, () -> NOW_MS)).isInstanceOf(JournalFormatException.class)
                        .hasMessageContaining(Long.toHexString(lastIndex));
            }
            xorByte(cycle, recordOffset + offset, 0x10);
        }
        try (Journal journal = Journal.open(directory, Durability.PAGE_CACHE, 100)) {
            List<Read> read = readAll(journal);
            assertThat(read).hasSize(5);
            assertThat(read.getLast().event()).isEqualTo(last);
        }
        // Not covered, and not caught today: Chronicle's own 4-byte document header before the
        // payload is outside our checksum. Setting its metadata bit (one flipped bit) makes Chronicle
        // skip the document silently and renumber the records after it (seen with chronicle-queue
        // 2026.4). Catching that needs a sequence number or a hash chain inside our records.
    }

    /**
     * A writer killed in the middle of a record: a child JVM appends complete records through the
     * journal, then opens a Chronicle document, writes the first half of a settlement into it and
     * halts the JVM (no shutdown hooks, no close) while the document is still open.
     *
     * <p>What happens, as observed with chronicle-queue 2026.4 and checked below: on reopening, the
     * dead writer's lock is released without waiting; every complete record reads back; the partial
     * record is never visible to a reader (its document header was never completed, so it reads as
     * the end of the data); the next append takes its place in the file at the next index, so no
     * gap, no error and no trace of it remains. For the ledger, a settlement cut off this way is a
     * settlement that did not happen: its reservation is still open in the journal, so recovery
     * releases it (reason {@code recovery}) and reports what it held as exposure.
     */
    @Test
    void aHalfWrittenLastRecordFromAKilledWriterIsNeverReadAndAppendingResumes() throws Exception {
        Process child = new ProcessBuilder(childJavaCommand(KilledWriter.class, directory.toString()))
                .redirectErrorStream(true).redirectOutput(directory.resolveSibling(directory.getFileName() + "-child.log").toFile()).start();
        assertThat(child.waitFor(60, TimeUnit.SECONDS)).isTrue();
        String childLog = Files.readString(directory.resolveSibling(directory.getFileName() + "-child.log"));
        assertThat(child.exitValue()).as("child output:%n%s", childLog).isEqualTo(KilledWriter.HALT_STATUS);
        assertThat(childLog).contains(KilledWriter.HALTING);

        try (Journal journal = Journal.open(directory, Durability.PAGE_CACHE, 100)) {
            List<Read> before = readAll(journal);
            assertThat(before).extracting(Read::event).containsExactlyElementsOf(KilledWriter.COMPLETE);
            assertThat(journal.lastIndex()).isEqualTo(before.getLast().index());

            Ledger ledger = Ledger.recover(journal, null, 16, () -> NOW_MS + 10_000);
            // The append recovery made (its Released) worked despite the dead writer's lock (checked below: it is in the journal).
            RecoveryReport report = ledger.recoveryReport();
            assertThat(report.releasedOnRecovery()).extracting(LedgerState.OpenReservation::reservationId).containsExactly(1L);
            assertThat(report.exposureMicros()).isEqualTo(300);
            int slot = ledger.accounts().slotOf("acme");
            assertThat(ledger.balances().creditedMicros(slot)).isEqualTo(1_000);
            assertThat(ledger.balances().debitedMicros(slot)).isEqualTo(150);
            assertThat(ledger.balances().availableMicros(slot)).isEqualTo(850);
            assertThat(ledger.balances().reservedMicros(slot)).isZero();
            assertThat(ledger.credit("acme", 5, "after-the-crash")).isTrue();

            List<Read> after = readAll(journal);
            assertThat(after).hasSize(before.size() + 2);
            assertThat(after.subList(0, before.size())).isEqualTo(before);
            assertThat(after.get(before.size()).index()).as("no index was lost to the partial record").isEqualTo(before.getLast().index() + 1);
            assertThat(after.get(before.size()).event()).isInstanceOfSatisfying(Released.class,
                    released -> assertThat(released.reason()).isEqualTo(Ledger.RECOVERY_REASON));
            assertThat(after.getLast().event()).isInstanceOf(CreditAdded.class);
        }
        try (Journal journal = Journal.open(directory, Durability.PAGE_CACHE, 100)) {
            assertThat(readAll(journal)).hasSize(KilledWriter.COMPLETE.size() + 2);
            // The partial bytes were overwritten by the append that took their place.
            byte[] partial = KilledWriter.partialRecord();
            assertThat(offsetOf(onlyCycleFile(), partial)).isEqualTo(-1);
        }
    }

    /** The child JVM of the test above. */
    static final class KilledWriter {
        static final int HALT_STATUS = 77;
        static final String HALTING = "halting with a document half written";
        static final List<JournalEvent> COMPLETE = List.of(
                new AccountOpened(NOW_MS, "acme"),
                new CreditAdded(NOW_MS, "acme", 1_000, "opening"),
                new KeyIssued(NOW_MS, KEY_HASH, "tg-abcd...", "ci", "acme"),
                new ReservationMade(NOW_MS + 1, 1, "acme", KEY_HASH, 300, "req-1"),
                new ReservationMade(NOW_MS + 2, 2, "acme", KEY_HASH, 200, "req-2"),
                JournalCodecTest.typicalSettlement(2, "acme", KEY_HASH, NOW_MS + 3, 150));

        /** The first half of the settlement of reservation 1, which never finishes. */
        static byte[] partialRecord() {
            byte[] record = JournalCodecTest.encode(JournalCodecTest.typicalSettlement(1, "acme", KEY_HASH, NOW_MS + 4_321, 290));
            return java.util.Arrays.copyOf(record, record.length / 2);
        }

        public static void main(String[] args) {
            Path directory = Path.of(args[0]);
            try (Journal journal = Journal.open(directory, Durability.PAGE_CACHE, 100)) {
                COMPLETE.forEach(journal::append);
            }
            // The same queue settings as Journal, through Chronicle directly: Journal.append always
            // closes its document, and the point is a document that is never closed.
            ChronicleQueue queue = SingleChronicleQueueBuilder.binary(directory).rollCycle(RollCycles.FAST_DAILY).build();
            ExcerptAppender appender = queue.createAppender();
            DocumentContext document = appender.writingDocument();
            byte[] partial = partialRecord();
            document.wire().bytes().write(partial, 0, partial.length);
            System.out.println(HALTING);
            System.out.flush();
            Runtime.getRuntime().halt(HALT_STATUS);
        }
    }

    @Test
    void everyDurabilityAppendsAndReadsBack() {
        for (Durability durability : Durability.values()) {
            Path journalDirectory = directory.resolve(durability.wireName());
            List<JournalEvent> written = new ArrayList<>();
            try (Journal journal = Journal.open(journalDirectory, durability, 10)) {
                written.add(new AccountOpened(NOW_MS, "acme"));
                written.add(new CreditAdded(NOW_MS, "acme", 10, "k"));
                written.add(new ReservationMade(NOW_MS, 1, "acme", KEY_HASH, 5, "r"));
                written.add(JournalCodecTest.typicalSettlement(1, "acme", KEY_HASH, NOW_MS, 5));
                written.forEach(journal::append);
                journal.syncCurrentThread();
            }
            try (Journal journal = Journal.openReadOnly(journalDirectory)) {
                assertThat(readAll(journal)).extracting(Read::event).containsExactlyElementsOf(written);
                assertThatThrownBy(() -> journal.append(written.getFirst())).isInstanceOf(IllegalStateException.class);
                List<JournalEvent> backward = new ArrayList<>();
                journal.readBackward((index, event) -> backward.add(event));
                assertThat(backward).containsExactlyElementsOf(written.reversed());
            }
        }
    }

    @Test
    void aRandomMixOfRecordsReadsBackEqual() {
        Random random = new Random(JournalCodecTest.seed("JournalOnDiskTest.aRandomMixOfRecordsReadsBackEqual"));
        JournalCodecTest.RandomEvents events = new JournalCodecTest.RandomEvents(random);
        Map<Long, JournalEvent> written = new HashMap<>();
        try (Journal journal = Journal.open(directory, Durability.PAGE_CACHE, 100)) {
            for (int i = 0; i < 5_000; i++) {
                JournalEvent event = events.any();
                written.put(journal.append(event), event);
            }
        }
        try (Journal journal = Journal.openReadOnly(directory)) {
            List<Read> read = readAll(journal);
            assertThat(read).hasSize(written.size());
            for (Read record : read) {
                assertThat(record.event()).isEqualTo(written.get(record.index()));
            }
        }
    }

    private Path onlyCycleFile() throws IOException {
        try (var files = Files.list(directory)) {
            List<Path> cycles = files.filter(path -> path.getFileName().toString().endsWith(".cq4")).toList();
            assertThat(cycles).hasSize(1);
            return cycles.getFirst();
        }
    }

    /** Where {@code bytes} occur in the file, or -1; fails if they occur more than once. */
    static long offsetOf(Path file, byte[] bytes) throws IOException {
        byte[] content = Files.readAllBytes(file);
        long found = -1;
        outer:
        for (int i = 0; i + bytes.length <= content.length; i++) {
            for (int k = 0; k < bytes.length; k++) {
                if (content[i + k] != bytes[k]) {
                    continue outer;
                }
            }
            assertThat(found).as("the bytes occur once in %s", file).isEqualTo(-1);
            found = i;
        }
        return found;
    }

    static void xorByte(Path file, long offset, int mask) throws IOException {
        try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            ByteBuffer one = ByteBuffer.allocate(1);
            channel.read(one, offset);
            one.put(0, (byte) (one.get(0) ^ mask)).rewind();
            channel.write(one, offset);
        }
    }

    /** {@code java} with this JVM's module flags and class path, running {@code main} of {@code mainClass}. */
    static List<String> childJavaCommand(Class<?> mainClass, String... args) {
        List<String> command = new ArrayList<>();
        command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        for (String argument : ManagementFactory.getRuntimeMXBean().getInputArguments()) {
            if (argument.startsWith("--add-") || argument.startsWith("--enable-native-access") || argument.startsWith("--sun-misc")
                    || argument.startsWith("-Dchronicle.")) {
                command.add(argument);
            }
        }
        command.add("-Xmx256m");
        command.add("-cp");
        command.add(System.getProperty("java.class.path"));
        command.add(mainClass.getName());
        command.addAll(List.of(args));
        return command;
    }
}
