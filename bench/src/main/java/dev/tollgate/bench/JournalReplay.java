package dev.tollgate.bench;

import dev.tollgate.config.Durability;
import dev.tollgate.journal.Journal;
import dev.tollgate.journal.JournalEvent.RequestFacts;
import dev.tollgate.journal.Ledger;
import dev.tollgate.journal.LedgerReservation;
import dev.tollgate.journal.LedgerState;
import dev.tollgate.journal.RecoveryReport;
import dev.tollgate.journal.Snapshots;
import dev.tollgate.metering.ApiKeys;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import net.openhft.chronicle.queue.ChronicleQueue;
import net.openhft.chronicle.queue.ExcerptTailer;
import net.openhft.chronicle.queue.RollCycles;
import net.openhft.chronicle.queue.impl.single.SingleChronicleQueueBuilder;
import net.openhft.chronicle.wire.DocumentContext;

/**
 * How fast the journal replays, and how long a node takes to start on a large one.
 *
 * <pre>
 *   generate --dir D [--records 10000000] [--accounts 1000] [--in-flight 64]   a realistic journal, written through a Ledger
 *   replay   --dir D [--repeat 3]        records/s: Chronicle alone, + decode and validate, + LedgerState.apply
 *   snapshot --dir D [--at 0.99]         a snapshot of the state after that fraction of the records, in D/snapshots
 *   recover  --dir D [--snapshot]        Journal.open + Ledger.recover, once, in this (fresh) JVM: the start-up time
 * </pre>
 *
 * The mix generate writes: {@code --in-flight} requests open at a time, as concurrent requests
 * would be; each new request reserves its worst case; 85% settle (most below the reservation, a
 * few above it), 10% are released (upstream errors), 5% are extended once mid-stream and then
 * settled; one operation in 200 is a top-up. About 2.1 records per request.
 */
public final class JournalReplay {
    private static final long START_MS = 1_795_000_000_000L;

    public static void main(String[] args) throws Exception {
        if (args.length == 0) {
            throw new IllegalArgumentException("usage: generate|replay|snapshot|recover --dir DIR [options]");
        }
        Map<String, String> options = new java.util.HashMap<>();
        for (int i = 1; i < args.length; i++) {
            String name = args[i];
            if (name.equals("--snapshot")) {
                options.put(name, "true");
            } else {
                options.put(name, args[++i]);
            }
        }
        Path directory = Path.of(required(options, "--dir"));
        switch (args[0]) {
            case "generate" -> generate(directory, Long.parseLong(options.getOrDefault("--records", "10000000")),
                    Integer.parseInt(options.getOrDefault("--accounts", "1000")), Integer.parseInt(options.getOrDefault("--in-flight", "64")));
            case "replay" -> replay(directory, Integer.parseInt(options.getOrDefault("--repeat", "3")));
            case "snapshot" -> snapshot(directory, Double.parseDouble(options.getOrDefault("--at", "0.99")));
            case "recover" -> recover(directory, options.containsKey("--snapshot"));
            default -> throw new IllegalArgumentException("unknown mode " + args[0]);
        }
    }

    private static String required(Map<String, String> options, String name) {
        String value = options.get(name);
        if (value == null) {
            throw new IllegalArgumentException(name + " is required");
        }
        return value;
    }

    static void generate(Path directory, long records, int accountCount, int inFlight) {
        Random random = new Random(20261127L);
        long[] clock = {START_MS};
        long started = System.nanoTime();
        Map<String, Long> counts = new java.util.TreeMap<>();
        try (Journal journal = Journal.open(directory, Durability.PAGE_CACHE, 100)) {
            Ledger ledger = Ledger.recover(journal, null, accountCount, () -> clock[0]);
            ApiKeys.ApiKey[][] keys = new ApiKeys.ApiKey[accountCount][2];
            for (int account = 0; account < accountCount; account++) {
                String accountId = BenchEvents.accountId(account);
                ledger.openAccount(accountId);
                ledger.credit(accountId, 1_000_000_000_000L, "opening-" + account);
                for (int key = 0; key < 2; key++) {
                    String raw = BenchEvents.rawKey(account, key);
                    ledger.issueKey(ApiKeys.sha256Hex(raw), ApiKeys.displayPrefix(raw), "key-" + key, accountId);
                    keys[account][key] = ledger.keys().lookup(raw);
                }
            }
            List<LedgerReservation> open = new ArrayList<>();
            List<Integer> models = new ArrayList<>();
            List<String> requestIds = new ArrayList<>();
            long topUps = 0;
            // Counted here: Journal.lastIndex() asks Chronicle, which is far too slow to call per record.
            long written = 4L * accountCount; // opened, credited, two keys
            while (written < records) {
                written++;
                clock[0] += random.nextInt(3);
                if (random.nextInt(200) == 0) {
                    int account = random.nextInt(accountCount);
                    ledger.credit(BenchEvents.accountId(account), 1_000_000 + random.nextInt(100_000_000), "top-up-" + ++topUps);
                    counts.merge("top-ups", 1L, Long::sum);
                    continue;
                }
                if (open.size() < inFlight) {
                    int account = random.nextInt(accountCount);
                    ApiKeys.ApiKey key = keys[account][random.nextInt(2)];
                    String requestId = BenchEvents.requestId(random);
                    LedgerReservation reservation = ledger.reserve(key, 500, 2_000 + random.nextInt(60_000), requestId);
                    open.add(reservation);
                    models.add(random.nextInt(BenchEvents.MODELS.length));
                    requestIds.add(requestId);
                    counts.merge("reservations", 1L, Long::sum);
                    continue;
                }
                int pick = random.nextInt(open.size());
                LedgerReservation reservation = open.get(pick);
                int model = models.get(pick);
                String requestId = requestIds.get(pick);
                int last = open.size() - 1;
                open.set(pick, open.get(last));
                models.set(pick, models.get(last));
                requestIds.set(pick, requestIds.get(last));
                open.removeLast();
                models.removeLast();
                requestIds.removeLast();
                RequestFacts facts = BenchEvents.facts(random, requestId, reservation.key().accountId(), reservation.key().sha256Hex(), model,
                        clock[0] - 900, clock[0]);
                int outcome = random.nextInt(100);
                if (outcome < 10) {
                    reservation.release(facts, "upstream_error");
                    counts.merge("releases", 1L, Long::sum);
                    continue;
                }
                if (outcome < 15) {
                    reservation.extend(1_000, 20_000);
                    counts.merge("extensions", 1L, Long::sum);
                    written++;
                }
                long held = reservation.heldMicros();
                long cost = random.nextInt(50) == 0 ? held + random.nextInt(2_000) : random.nextLong(held + 1);
                reservation.settle(cost, facts, BenchEvents.usage(random), true, "completed");
                counts.merge("settlements", 1L, Long::sum);
            }
            counts.put("left open (in flight at the end)", (long) open.size());
            long elapsed = System.nanoTime() - started;
            System.out.printf("generated %,d records in %.1f s (%,.0f records/s, through Ledger, durability page_cache) in %s%n", written, elapsed / 1e9,
                    written / (elapsed / 1e9), directory);
            System.out.println("mix: " + counts);
            System.out.printf("journal on disk: %,d MB allocated%n", allocatedBytes(directory) / 1_000_000);
        }
    }

    static void replay(Path directory, int repeat) {
        System.out.printf("%-44s %12s %10s %14s%n", "replay of the whole journal (warm JVM)", "records", "seconds", "records/s");
        for (int run = 1; run <= repeat; run++) {
            long started = System.nanoTime();
            long documents = 0;
            try (ChronicleQueue queue = SingleChronicleQueueBuilder.binary(directory).rollCycle(RollCycles.FAST_DAILY).readOnly(true).build();
                 ExcerptTailer tailer = queue.createTailer()) {
                while (true) {
                    try (DocumentContext document = tailer.readingDocument()) {
                        if (!document.isPresent()) {
                            break;
                        }
                        documents++;
                    }
                }
            }
            print("run " + run + ": Chronicle documents only (baseline)", documents, System.nanoTime() - started);

            try (Journal journal = Journal.openReadOnly(directory)) {
                started = System.nanoTime();
                long[] sink = {0};
                long decoded = journal.readAfter(-1, (index, event) -> sink[0] += event.timestampMs());
                print("run " + run + ": + copy, checksum, decode, validate", decoded, System.nanoTime() - started);

                started = System.nanoTime();
                LedgerState state = new LedgerState();
                long applied = journal.readAfter(-1, state::apply);
                print("run " + run + ": + LedgerState.apply (the replay)", applied, System.nanoTime() - started);
                if (run == repeat) {
                    System.out.printf("state: %d accounts, %d keys, %d open reservations, hash %s...%n", state.accounts().size(), state.keys().size(),
                            state.openReservations().size(), state.stateHash().substring(0, 16));
                }
            }
        }
    }

    private static void print(String what, long records, long nanos) {
        System.out.printf("%-44s %,12d %10.2f %,14.0f%n", what, records, nanos / 1e9, records / (nanos / 1e9));
    }

    static void snapshot(Path directory, double fraction) {
        try (Journal journal = Journal.openReadOnly(directory)) {
            long total = journal.readAfter(-1, (index, event) -> { });
            long upTo = (long) (total * fraction);
            LedgerState state = new LedgerState();
            long[] seen = {0};
            journal.readAfter(-1, (index, event) -> {
                if (seen[0]++ < upTo) {
                    state.apply(index, event);
                }
            });
            long started = System.nanoTime();
            Path file = Snapshots.write(directory.resolve("snapshots"), state, null);
            long nanos = System.nanoTime() - started;
            System.out.printf("snapshot after %,d of %,d records (index %x): %s, %,d bytes, written in %.1f ms%n", upTo, total, state.lastIndex(),
                    file.getFileName(), sizeOf(file), nanos / 1e6);
        }
    }

    static void recover(Path directory, boolean withSnapshot) {
        long started = System.nanoTime();
        try (Journal journal = Journal.open(directory, Durability.PAGE_CACHE, 100)) {
            long opened = System.nanoTime();
            Ledger ledger = Ledger.recover(journal, withSnapshot ? directory.resolve("snapshots") : null, 10_000, System::currentTimeMillis);
            long recovered = System.nanoTime();
            RecoveryReport report = ledger.recoveryReport();
            System.out.printf("start-up %s snapshot: Journal.open %.2f s + Ledger.recover %.2f s = %.2f s; snapshot index %s, %,d records replayed "
                            + "(%,d records/s), %d reservations released on recovery (exposure %,d micros)%n",
                    withSnapshot ? "with a" : "without a", (opened - started) / 1e9, (recovered - opened) / 1e9, (recovered - started) / 1e9,
                    report.snapshotIndex() < 0 ? "none" : Long.toHexString(report.snapshotIndex()), report.recordsReplayed(),
                    report.recordsPerSecond(), report.releasedOnRecovery().size(), report.exposureMicros());
        }
    }

    private static long sizeOf(Path file) {
        try {
            return Files.size(file);
        } catch (IOException e) {
            return -1;
        }
    }

    /** Bytes actually allocated on disk (Chronicle's cycle files are sparse, so their length says little). */
    private static long allocatedBytes(Path directory) {
        try {
            Process du = new ProcessBuilder("du", "-sk", directory.toString()).start();
            String out = new String(du.getInputStream().readAllBytes()).trim();
            du.waitFor();
            return Long.parseLong(out.split("\\s+")[0]) * 1024;
        } catch (IOException | InterruptedException | RuntimeException e) {
            return -1;
        }
    }
}
