package dev.tollgate.journal;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tollgate.config.Durability;
import dev.tollgate.journal.JournalEvent.Released;
import dev.tollgate.journal.JournalEvent.RequestFacts;
import dev.tollgate.journal.JournalEvent.ReservationMade;
import dev.tollgate.journal.JournalEvent.Settled;
import dev.tollgate.metering.ApiKeys;
import dev.tollgate.metering.Reservation;
import dev.tollgate.metering.Usage;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A seeded random history of everything that moves money (reserve, extend, settle below, at and
 * above the reservation, release, top-ups with retried idempotency keys, adjustments both ways, keys
 * issued and revoked, snapshots, and crashes) run against the real ledger and journal and, beside
 * them, against a model made of plain maps of longs. After every step the live Agrona counters
 * equal the model; after every crash the recovered counters, the journal replayed from empty and
 * the recovery report equal the model with its open reservations released. A failure prints the
 * seed and step that replay it ({@code -Dtollgate.seed=N}).
 */
class LedgerSimulationTest {
    static final int MAX_ACCOUNTS = 8;
    static final long START_MS = 1_795_000_000_000L;

    @TempDir
    Path directory;

    @Test
    void randomHistoriesWithCrashesMatchTheModel() {
        long seed = JournalCodecTest.seed("LedgerSimulationTest.randomHistoriesWithCrashesMatchTheModel");
        int steps = Integer.getInteger("tollgate.simulation.steps", 1_500);
        long settledAbove = 0;
        long writtenOff = 0;
        long refusedRetries = 0;
        for (long run = 0; run < 3; run++) {
            try (Simulation simulation = new Simulation(seed + run, directory.resolve("run-" + run), true)) {
                simulation.run(steps);
                simulation.crash(); // ends every history with a recovery, so every reservation has its outcome
                simulation.checkExactlyOneOutcomePerReservation(true);
                System.out.println("seed " + (seed + run) + ": " + simulation.summary());
                assertThat(simulation.crashes).as("the history includes crashes").isGreaterThan(3);
                settledAbove += simulation.settledAbove;
                writtenOff += simulation.writtenOff;
                refusedRetries += simulation.refusedRetries;
            }
        }
        // What the histories covered, over the three runs (one run of another seed may happen to miss a case).
        assertThat(settledAbove).as("some settlements exceeded their reservation").isPositive();
        assertThat(writtenOff).as("some were written off").isPositive();
        assertThat(refusedRetries).as("some top-ups were retried").isPositive();
    }

    /** Per account, in micro-units: the model's whole state is these longs and the maps below. */
    static final class ModelAccount {
        long credited;
        long debited;
        long available;
        long reserved;
        long writtenOff;
    }

    static final class ModelReservation {
        final long id;
        final String accountId;
        final String keyHash;
        final String requestId;
        long held;

        ModelReservation(long id, String accountId, String keyHash, String requestId, long held) {
            this.id = id;
            this.accountId = accountId;
            this.keyHash = keyHash;
            this.requestId = requestId;
            this.held = held;
        }
    }

    record ModelKey(String rawKey, String accountId, String label, String displayPrefix, boolean revoked) {
    }

    /** The ledger under test and its model, driven by one random source. */
    static final class Simulation implements AutoCloseable {
        final long seed;
        final Random random;
        /** The clock's own source: how often the ledger reads the clock must not shift the history's random choices. */
        final Random clockRandom;
        final Path journalDirectory;
        final Path snapshotDirectory;
        final boolean crashesAndSnapshots;
        Journal journal;
        Ledger ledger;
        /** Journals of crashed ledgers: never closed while the run goes on (a crash runs no close), closed at the end to free their maps. */
        final List<Journal> abandoned = new ArrayList<>();
        long clockMs = START_MS;

        final Map<String, ModelAccount> accounts = new LinkedHashMap<>();
        final Map<Long, ModelReservation> open = new TreeMap<>();
        final Map<Long, LedgerReservation> live = new HashMap<>();
        final Set<String> appliedIdempotency = new HashSet<>();
        final List<String[]> usedIdempotency = new ArrayList<>(); // {accountId, key}, for retries
        final Map<String, ModelKey> keys = new LinkedHashMap<>(); // by hash
        /** What the model expects each settlement record to say: {debited, writtenOff}. */
        final Map<Long, long[]> expectedSettlement = new HashMap<>();
        final Set<Long> released = new HashSet<>();

        int step;
        int crashes;
        int snapshots;
        int settledBelow;
        int settledEqual;
        int settledAbove;
        long writtenOff;
        int refusedRetries;
        int refusedReservations;
        int releasedOnRecovery;
        private int counter;

        Simulation(long seed, Path directory, boolean crashesAndSnapshots) {
            this.seed = seed;
            this.random = new Random(seed);
            this.clockRandom = new Random(~seed);
            this.journalDirectory = directory.resolve("journal");
            this.snapshotDirectory = directory.resolve("snapshots");
            this.crashesAndSnapshots = crashesAndSnapshots;
            this.journal = Journal.open(journalDirectory, Durability.PAGE_CACHE, 100);
            this.ledger = Ledger.recover(journal, snapshotDirectory, MAX_ACCOUNTS, this::tick);
            assertThat(ledger.recoveryReport().recordsReplayed()).isZero();
        }

        long tick() {
            return clockMs += 1 + clockRandom.nextInt(3);
        }

        String summary() {
            return String.format("%d steps, %d crashes (%d reservations released on recovery), %d snapshots, settlements below/at/above %d/%d/%d, "
                            + "written off %d, refused retries %d, refused reservations %d, journal records %d",
                    step, crashes, releasedOnRecovery, snapshots, settledBelow, settledEqual, settledAbove, writtenOff, refusedRetries,
                    refusedReservations, journal.readAfter(-1, (index, event) -> { }));
        }

        void run(int steps) {
            for (int i = 0; i < 5; i++) {
                openAccount();
            }
            for (step = 0; step < steps; step++) {
                int roll = random.nextInt(100);
                try {
                    if (roll < 25) {
                        reserve();
                    } else if (roll < 43) {
                        settle();
                    } else if (roll < 50) {
                        release();
                    } else if (roll < 57) {
                        extend();
                    } else if (roll < 67) {
                        credit();
                    } else if (roll < 73) {
                        adjust();
                    } else if (roll < 78) {
                        issueKey();
                    } else if (roll < 81) {
                        revokeKey();
                    } else if (roll < 83) {
                        openAccount();
                    } else if (roll < 86 && crashesAndSnapshots) {
                        crash();
                    } else if (roll < 88 && crashesAndSnapshots) {
                        snapshot();
                    } else {
                        reserve();
                    }
                    checkLiveCountersEqualTheModel();
                } catch (AssertionError | RuntimeException e) {
                    throw new AssertionError("seed " + seed + ", step " + step + " failed (replay with -Dtollgate.seed=" + seed + "): "
                            + e.getMessage(), e);
                }
            }
        }

        private String next(String prefix) {
            return prefix + "-" + ++counter;
        }

        private <T> T pick(List<T> from) {
            return from.get(random.nextInt(from.size()));
        }

        private String anyAccount() {
            return pick(new ArrayList<>(accounts.keySet()));
        }

        private long amount(int bound) {
            // Mostly small amounts, sometimes large ones, so balances both run dry and overflow reservations.
            return random.nextInt(8) == 0 ? 1 + random.nextInt(bound * 20) : 1 + random.nextInt(bound);
        }

        void openAccount() {
            if (accounts.size() >= MAX_ACCOUNTS) {
                return;
            }
            String accountId = random.nextInt(3) == 0 ? next("compte-é€") : next("account");
            assertThat(ledger.openAccount(accountId)).isTrue();
            assertThat(ledger.openAccount(accountId)).as("opening twice").isFalse();
            accounts.put(accountId, new ModelAccount());
        }

        void credit() {
            String accountId;
            String idempotencyKey;
            if (!usedIdempotency.isEmpty() && random.nextInt(4) == 0) {
                String[] retried = pick(usedIdempotency); // a client retrying a top-up it already made
                accountId = retried[0];
                idempotencyKey = retried[1];
            } else {
                accountId = anyAccount();
                idempotencyKey = random.nextBoolean() && !usedIdempotency.isEmpty() ? pick(usedIdempotency)[1] : next("top-up");
            }
            long amountMicros = amount(40_000);
            boolean expected = appliedIdempotency.add(LedgerState.idempotencyScope(accountId, idempotencyKey));
            assertThat(ledger.credit(accountId, amountMicros, idempotencyKey)).as("credit %s %s", accountId, idempotencyKey).isEqualTo(expected);
            if (expected) {
                ModelAccount account = accounts.get(accountId);
                account.credited += amountMicros;
                account.available += amountMicros;
                usedIdempotency.add(new String[] {accountId, idempotencyKey});
            } else {
                refusedRetries++;
            }
        }

        void adjust() {
            String accountId = anyAccount();
            ModelAccount account = accounts.get(accountId);
            String idempotencyKey = !usedIdempotency.isEmpty() && random.nextInt(5) == 0 ? pick(usedIdempotency)[1] : next("adjustment");
            long amountMicros = random.nextBoolean() ? amount(5_000) : -amount(5_000);
            String scope = LedgerState.idempotencyScope(accountId, idempotencyKey);
            // A negative adjustment larger than what is available is refused and does not use up its key.
            boolean expected = !appliedIdempotency.contains(scope) && (amountMicros > 0 || -amountMicros <= account.available);
            assertThat(ledger.adjust(accountId, amountMicros, "operator correction", idempotencyKey)).as("adjust %s by %d", accountId, amountMicros)
                    .isEqualTo(expected);
            if (expected) {
                appliedIdempotency.add(scope);
                usedIdempotency.add(new String[] {accountId, idempotencyKey});
                account.credited += amountMicros;
                account.available += amountMicros;
            } else {
                refusedRetries++;
            }
        }

        void issueKey() {
            String rawKey = next("tg-sim-key");
            String hash = ApiKeys.sha256Hex(rawKey);
            String accountId = anyAccount();
            String label = next("label");
            assertThat(ledger.issueKey(hash, ApiKeys.displayPrefix(rawKey), label, accountId)).isTrue();
            assertThat(ledger.issueKey(hash, ApiKeys.displayPrefix(rawKey), label, accountId)).as("issuing twice").isFalse();
            keys.put(hash, new ModelKey(rawKey, accountId, label, ApiKeys.displayPrefix(rawKey), false));
        }

        void revokeKey() {
            List<String> liveKeys = liveKeyHashes();
            if (liveKeys.isEmpty()) {
                return;
            }
            String hash = pick(liveKeys);
            assertThat(ledger.revokeKey(hash)).isTrue();
            assertThat(ledger.revokeKey(hash)).as("revoking twice").isFalse();
            ModelKey key = keys.get(hash);
            keys.put(hash, new ModelKey(key.rawKey(), key.accountId(), key.label(), key.displayPrefix(), true));
            // Reservations already made with the key go on: revoking stops new requests, not requests in flight.
        }

        private List<String> liveKeyHashes() {
            return keys.entrySet().stream().filter(entry -> !entry.getValue().revoked()).map(Map.Entry::getKey).collect(Collectors.toList());
        }

        void reserve() {
            List<String> liveKeys = liveKeyHashes();
            if (liveKeys.isEmpty()) {
                issueKey();
                liveKeys = liveKeyHashes();
            }
            ModelKey key = keys.get(pick(liveKeys));
            ApiKeys.ApiKey apiKey = ledger.keys().lookup(key.rawKey());
            assertThat(apiKey).as("the ledger knows the live key").isNotNull();
            assertThat(apiKey.accountId()).isEqualTo(key.accountId());
            long minMicros = random.nextInt(10) == 0 ? 0 : amount(2_000);
            long maxMicros = minMicros + (random.nextBoolean() ? 0 : amount(8_000));
            String requestId = next("tg_req");
            ModelAccount account = accounts.get(key.accountId());
            LedgerReservation reservation = ledger.reserve(apiKey, minMicros, maxMicros, requestId);
            if (account.available < minMicros) {
                assertThat(reservation).as("refused: %d available, %d needed", account.available, minMicros).isNull();
                refusedReservations++;
                return;
            }
            assertThat(reservation).isNotNull();
            long held = Math.min(account.available, maxMicros);
            assertThat(reservation.heldMicros()).isEqualTo(held);
            assertThat(open).doesNotContainKey(reservation.reservationId());
            account.available -= held;
            account.reserved += held;
            open.put(reservation.reservationId(), new ModelReservation(reservation.reservationId(), key.accountId(), apiKey.sha256Hex(), requestId, held));
            live.put(reservation.reservationId(), reservation);
        }

        private ModelReservation anyOpen() {
            return open.isEmpty() ? null : pick(new ArrayList<>(open.values()));
        }

        void extend() {
            ModelReservation model = anyOpen();
            if (model == null) {
                return;
            }
            ModelAccount account = accounts.get(model.accountId);
            long minMicros = random.nextInt(10) == 0 ? 0 : amount(1_000);
            long maxMicros = minMicros + amount(3_000);
            boolean expected = account.available >= minMicros;
            assertThat(live.get(model.id).extend(minMicros, maxMicros)).isEqualTo(expected);
            if (expected) {
                long more = Math.min(account.available, maxMicros);
                account.available -= more;
                account.reserved += more;
                model.held += more;
            }
            assertThat(live.get(model.id).heldMicros()).isEqualTo(model.held);
        }

        private RequestFacts facts(ModelReservation model) {
            long end = clockMs;
            return new RequestFacts(model.requestId, model.accountId, model.keyHash, Ledger.DEFAULT_LANE, "sim", "sim-model", "/v1/chat/completions",
                    end - random.nextInt(1_000), end, random.nextBoolean() ? "" : "upstream-" + model.id);
        }

        void settle() {
            ModelReservation model = anyOpen();
            if (model == null) {
                return;
            }
            ModelAccount account = accounts.get(model.accountId);
            long held = model.held;
            long costMicros;
            switch (random.nextInt(3)) {
                case 0 -> {
                    costMicros = held == 0 ? 0 : random.nextLong(held);
                    settledBelow++;
                }
                case 1 -> {
                    costMicros = held;
                    settledEqual++;
                }
                default -> {
                    costMicros = held + amount(3_000);
                    settledAbove++;
                }
            }
            Reservation.Settlement settlement = live.remove(model.id).settle(costMicros, facts(model), new Usage(100, 0, 0, 10, 0), true, "completed");
            assertThat(settlement).isNotNull();
            long expectedWrittenOff = 0;
            if (costMicros <= held) {
                account.available += held - costMicros;
            } else {
                long covered = Math.min(account.available, costMicros - held);
                account.available -= covered;
                expectedWrittenOff = costMicros - held - covered;
            }
            account.reserved -= held;
            account.debited += costMicros - expectedWrittenOff;
            account.writtenOff += expectedWrittenOff;
            writtenOff += expectedWrittenOff;
            assertThat(settlement.heldMicros()).isEqualTo(held);
            assertThat(settlement.debitedMicros()).isEqualTo(costMicros - expectedWrittenOff);
            assertThat(settlement.writtenOffMicros()).isEqualTo(expectedWrittenOff);
            expectedSettlement.put(model.id, new long[] {costMicros - expectedWrittenOff, expectedWrittenOff});
            open.remove(model.id);
        }

        void release() {
            ModelReservation model = anyOpen();
            if (model == null) {
                return;
            }
            LedgerReservation reservation = live.remove(model.id);
            assertThat(reservation.release(facts(model), "upstream_error")).isTrue();
            assertThat(reservation.release(facts(model), "upstream_error")).as("a second outcome is refused").isFalse();
            assertThat(reservation.settle(1, facts(model), Usage.ZERO, false, "late")).as("a late settlement is refused").isNull();
            ModelAccount account = accounts.get(model.accountId);
            account.available += model.held;
            account.reserved -= model.held;
            released.add(model.id);
            open.remove(model.id);
        }

        /** The reconciler's job, done here: replay the journal and write what it says as a snapshot. */
        void snapshot() {
            LedgerState state = new LedgerState();
            journal.readAfter(-1, state::apply);
            Snapshots.write(snapshotDirectory, state, new byte[] {(byte) snapshots});
            snapshots++;
        }

        /**
         * The process dies: nothing is closed, no reservation is settled, the objects are dropped.
         * The next process opens the journal and recovers; the model releases what was open.
         */
        void crash() {
            abandoned.add(journal);
            journal = null;
            ledger = null;
            live.clear();
            crashes++;

            long expectedExposure = open.values().stream().mapToLong(reservation -> reservation.held).sum();
            List<Long> expectedReleased = new ArrayList<>(open.keySet());
            for (ModelReservation reservation : open.values()) {
                ModelAccount account = accounts.get(reservation.accountId);
                account.available += reservation.held;
                account.reserved -= reservation.held;
                released.add(reservation.id);
            }
            open.clear();
            releasedOnRecovery += expectedReleased.size();

            journal = Journal.open(journalDirectory, Durability.PAGE_CACHE, 100);
            ledger = Ledger.recover(journal, snapshotDirectory, MAX_ACCOUNTS, this::tick);
            RecoveryReport report = ledger.recoveryReport();
            assertThat(report.releasedOnRecovery()).extracting(LedgerState.OpenReservation::reservationId)
                    .containsExactlyElementsOf(expectedReleased);
            assertThat(report.exposureMicros()).isEqualTo(expectedExposure);

            checkLiveCountersEqualTheModel();
            LedgerState replayed = checkReplayEqualsTheModel();
            assertThat(report.stateHash()).as("the recovery's state is the journal's").isEqualTo(replayed.stateHash());
            checkExactlyOneOutcomePerReservation(true);
        }

        void checkLiveCountersEqualTheModel() {
            for (Map.Entry<String, ModelAccount> entry : accounts.entrySet()) {
                int slot = ledger.accounts().slotOf(entry.getKey());
                assertThat(slot).as("account %s is open", entry.getKey()).isNotNegative();
                ModelAccount model = entry.getValue();
                var balances = ledger.balances();
                String what = "live counters of " + entry.getKey() + " {credited, debited, available, reserved, writtenOff}";
                assertThat(new long[] {balances.creditedMicros(slot), balances.debitedMicros(slot), balances.availableMicros(slot),
                        balances.reservedMicros(slot), balances.writtenOffMicros(slot)}).as(what)
                        .containsExactly(model.credited, model.debited, model.available, model.reserved, model.writtenOff);
                assertThat(balances.conservationErrorMicros(slot)).as("conservation of %s", entry.getKey()).isZero();
                assertThat(model.credited - model.debited).as("the model conserves too").isEqualTo(model.available + model.reserved);
                assertThat(balances.availableMicros(slot)).isNotNegative();
            }
            assertThat(ledger.accounts().accountIds()).containsExactlyInAnyOrderElementsOf(accounts.keySet());
            assertThat(ledger.keys().hashes()).containsExactlyInAnyOrderElementsOf(liveKeyHashes());
        }

        /** The journal replayed from empty into a fresh state equals the model. */
        LedgerState checkReplayEqualsTheModel() {
            LedgerState state = new LedgerState();
            journal.readAfter(-1, state::apply);
            assertThat(state.accounts()).extracting(LedgerState.Account::id).containsExactlyElementsOf(accounts.keySet());
            for (LedgerState.Account replayed : state.accounts()) {
                ModelAccount model = accounts.get(replayed.id());
                assertThat(new long[] {replayed.creditedMicros(), replayed.debitedMicros(), replayed.availableMicros(), replayed.reservedMicros(),
                        replayed.writtenOffMicros()}).as("replayed %s", replayed.id())
                        .containsExactly(model.credited, model.debited, model.available, model.reserved, model.writtenOff);
                assertThat(replayed.conservationErrorMicros()).isZero();
            }
            assertThat(state.openReservations()).extracting(LedgerState.OpenReservation::reservationId).containsExactlyElementsOf(open.keySet());
            for (LedgerState.OpenReservation reservation : state.openReservations()) {
                assertThat(reservation.heldMicros()).isEqualTo(open.get(reservation.reservationId()).held);
            }
            Map<String, Boolean> revokedByHash = new HashMap<>();
            for (LedgerState.Key key : state.keys()) {
                ModelKey model = keys.get(key.keyHash());
                assertThat(model).isNotNull();
                assertThat(key.accountId()).isEqualTo(model.accountId());
                assertThat(key.label()).isEqualTo(model.label());
                assertThat(key.displayPrefix()).isEqualTo(model.displayPrefix());
                revokedByHash.put(key.keyHash(), key.revoked());
            }
            assertThat(revokedByHash).containsExactlyInAnyOrderEntriesOf(keys.entrySet().stream()
                    .collect(Collectors.toMap(Map.Entry::getKey, entry -> entry.getValue().revoked())));
            for (String[] used : usedIdempotency) {
                assertThat(state.idempotencyKeyApplied(used[0], used[1])).isTrue();
            }
            return state;
        }

        /**
         * Counts, per reservation id, the records the journal holds: one ReservationMade, at most one
         * Settled or Released, none while the model has it open, and (if asked) exactly one, the
         * expected one with the expected amounts, once the model has closed it.
         */
        void checkExactlyOneOutcomePerReservation(boolean everyClosedOneHasItsOutcome) {
            Map<Long, Integer> made = new HashMap<>();
            Map<Long, Integer> outcomes = new HashMap<>();
            Map<Long, JournalEvent> outcomeRecord = new HashMap<>();
            journal.readAfter(-1, (index, event) -> {
                switch (event) {
                    case ReservationMade e -> made.merge(e.reservationId(), 1, Integer::sum);
                    case Settled e -> {
                        outcomes.merge(e.reservationId(), 1, Integer::sum);
                        outcomeRecord.put(e.reservationId(), e);
                    }
                    case Released e -> {
                        outcomes.merge(e.reservationId(), 1, Integer::sum);
                        outcomeRecord.put(e.reservationId(), e);
                    }
                    default -> {
                    }
                }
            });
            assertThat(made.values()).as("each id made once").allMatch(count -> count == 1);
            assertThat(outcomes.values()).as("no reservation has two outcomes").allMatch(count -> count == 1);
            assertThat(made.keySet()).containsAll(outcomes.keySet());
            for (long id : made.keySet()) {
                boolean isOpen = open.containsKey(id);
                if (isOpen) {
                    assertThat(outcomes).as("open reservation %d has no outcome yet", id).doesNotContainKey(id);
                } else if (everyClosedOneHasItsOutcome) {
                    assertThat(outcomes).as("closed reservation %d has its outcome", id).containsEntry(id, 1);
                    JournalEvent outcome = outcomeRecord.get(id);
                    if (expectedSettlement.containsKey(id)) {
                        assertThat(outcome).isInstanceOf(Settled.class);
                        Settled settled = (Settled) outcome;
                        assertThat(new long[] {settled.debitedMicros(), settled.writtenOffMicros()}).containsExactly(expectedSettlement.get(id));
                    } else {
                        assertThat(released).contains(id);
                        assertThat(outcome).isInstanceOf(Released.class);
                    }
                }
            }
        }

        @Override
        public void close() {
            if (journal != null) {
                journal.close();
            }
            abandoned.forEach(Journal::close);
        }
    }
}
