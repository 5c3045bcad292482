package dev.tollgate.journal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tollgate.config.Durability;
import dev.tollgate.journal.JournalEvent.RequestFacts;
import dev.tollgate.metering.ApiKeys;
import dev.tollgate.metering.KeyScope;
import dev.tollgate.metering.Usage;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The live ledger's contract with its journal when a call is refused: the counters and the journal
 * never disagree, so a refused call leaves both as they were and a later replay rebuilds the counters.
 */
class LedgerTest {
    private static final long NOW_MS = 1_795_000_000_000L;
    private static final int MAX_ACCOUNTS = 2;

    @TempDir
    Path directory;

    private final AtomicLong clock = new AtomicLong(NOW_MS);
    private Journal journal;
    private Ledger ledger;
    private ApiKeys.ApiKey key;

    @BeforeEach
    void start() {
        journal = Journal.open(directory, Durability.PAGE_CACHE, 100);
        ledger = Ledger.recover(journal, null, MAX_ACCOUNTS, clock::incrementAndGet);
        ledger.openAccount("acme");
        ledger.credit("acme", 1_000, "opening");
        ledger.issueKey(ApiKeys.sha256Hex("tg-key"), ApiKeys.displayPrefix("tg-key"), "ci", "acme");
        key = ledger.keys().lookup("tg-key");
    }

    @AfterEach
    void close() {
        journal.close();
    }

    private RequestFacts facts(String requestId) {
        return new RequestFacts(requestId, "acme", key.sha256Hex(), Ledger.DEFAULT_LANE, "openai", "gpt-4o-mini", "/v1/chat/completions", NOW_MS,
                NOW_MS + 5, "");
    }

    /** The journal replayed from empty gives exactly the live counters. */
    private void assertReplayEqualsLive() {
        LedgerState state = new LedgerState();
        journal.readAfter(-1, state::apply);
        for (LedgerState.Account account : state.accounts()) {
            var live = ledger.accounts().snapshot(account.id());
            assertThat(new long[] {account.creditedMicros(), account.debitedMicros(), account.availableMicros(), account.reservedMicros(),
                    account.writtenOffMicros()}).as("replayed %s", account.id())
                    .containsExactly(live.creditedMicros(), live.debitedMicros(), live.availableMicros(), live.reservedMicros(), live.writtenOffMicros());
        }
        assertThat(state.accounts()).hasSameSizeAs(ledger.accounts().accountIds());
    }

    @Test
    void anAccountBeyondTheLimitIsRefusedWithoutBeingJournaled() {
        assertThat(ledger.openAccount("globex")).isTrue();
        long last = journal.lastIndex();
        assertThatThrownBy(() -> ledger.openAccount("initech")).isInstanceOf(IllegalStateException.class);
        assertThat(journal.lastIndex()).as("nothing journaled").isEqualTo(last);
        // Otherwise the journal would hold more accounts than the counters have slots, and every
        // later start with the same limit would fail.
        Ledger recovered = Ledger.recover(journal, null, MAX_ACCOUNTS, clock::incrementAndGet);
        assertThat(recovered.accounts().accountIds()).containsExactly("acme", "globex");
    }

    @Test
    void aSettlementWhoseRecordIsInvalidLeavesTheReservationOpenAndTheCountersAlone() {
        LedgerReservation reservation = ledger.reserve(key, 100, 400, "req-1");
        long last = journal.lastIndex();
        var before = ledger.accounts().snapshot("acme");
        // An empty reason, then request facts whose model name is longer than any record allows.
        assertThatThrownBy(() -> reservation.settle(150, facts("req-1"), Usage.ZERO, false, "")).isInstanceOf(JournalFormatException.class);
        RequestFacts tooLong = new RequestFacts("req-1", "acme", key.sha256Hex(), Ledger.DEFAULT_LANE, "openai", "m".repeat(500), "/v1/chat/completions",
                NOW_MS, NOW_MS, "");
        assertThatThrownBy(() -> reservation.settle(150, tooLong, Usage.ZERO, false, "completed")).isInstanceOf(JournalFormatException.class);
        assertThatThrownBy(() -> reservation.release(tooLong, "upstream_error")).isInstanceOf(JournalFormatException.class);
        assertThat(reservation.isClosed()).as("still open: it can still get its one outcome").isFalse();
        assertThat(ledger.accounts().snapshot("acme")).isEqualTo(before);
        assertThat(journal.lastIndex()).isEqualTo(last);
        assertReplayEqualsLive();

        assertThat(reservation.settle(150, facts("req-1"), Usage.ZERO, false, "completed")).isNotNull();
        assertThat(ledger.accounts().snapshot("acme").debitedMicros()).isEqualTo(150);
        assertReplayEqualsLive();
    }

    @Test
    void anAdjustmentWhoseRecordIsInvalidChangesNothing() {
        var before = ledger.accounts().snapshot("acme");
        long last = journal.lastIndex();
        assertThatThrownBy(() -> ledger.adjust("acme", 500, "", "adj-1")).isInstanceOf(JournalFormatException.class);
        assertThatThrownBy(() -> ledger.adjust("acme", -500, "r".repeat(1_000), "adj-1")).isInstanceOf(JournalFormatException.class);
        assertThat(ledger.accounts().snapshot("acme")).isEqualTo(before);
        assertThat(journal.lastIndex()).isEqualTo(last);
        assertThat(ledger.adjust("acme", -500, "refund", "adj-1")).as("the key was not used up").isTrue();
        assertReplayEqualsLive();
    }

    @Test
    void refusedCreditsAndReservationsChangeNothing() {
        var before = ledger.accounts().snapshot("acme");
        long last = journal.lastIndex();
        assertThatThrownBy(() -> ledger.credit("acme", -5, "bad")).isInstanceOf(JournalFormatException.class);
        assertThatThrownBy(() -> ledger.credit("acme", 5, "")).isInstanceOf(JournalFormatException.class);
        assertThatThrownBy(() -> ledger.credit("nobody", 5, "k")).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> ledger.reserve(key, 10, 10, "")).isInstanceOf(JournalFormatException.class);
        assertThat(ledger.reserve(key, 5_000, 5_000, "req-too-big")).isNull();
        assertThat(ledger.accounts().snapshot("acme")).isEqualTo(before);
        assertThat(journal.lastIndex()).isEqualTo(last);
        assertReplayEqualsLive();
    }

    @Test
    void anExtensionThatHoldsNothingMoreSucceedsWithoutARecord() {
        LedgerReservation reservation = ledger.reserve(key, 1_000, 1_000, "req-all");
        long last = journal.lastIndex();
        assertThat(reservation.extend(0, 100)).isTrue();
        assertThat(reservation.heldMicros()).isEqualTo(1_000);
        assertThat(journal.lastIndex()).isEqualTo(last);
        assertThat(reservation.extend(1, 100)).isFalse();
        reservation.settle(1_200, facts("req-all"), Usage.ZERO, false, "completed");
        assertThat(ledger.accounts().snapshot("acme").writtenOffMicros()).isEqualTo(200);
        assertReplayEqualsLive();
    }

    @Test
    void anOperatorsCreditAppliesOncePerKeyAndRequestAlsoAfterARestart() {
        Ledger.Author alice = new Ledger.Author("ops-alice", "invoice 1042");
        assertThat(ledger.creditOnce("acme", 5_000, "inv-1042", alice)).isEqualTo(Ledger.Applied.APPLIED);
        assertThat(ledger.creditOnce("acme", 5_000, "inv-1042", alice)).isEqualTo(Ledger.Applied.REPLAYED);
        assertThat(ledger.creditOnce("acme", 5_001, "inv-1042", alice)).isEqualTo(Ledger.Applied.CONFLICT);
        assertThat(ledger.creditOnce("acme", 5_000, "inv-1042", new Ledger.Author("ops-alice", "another note"))).isEqualTo(Ledger.Applied.CONFLICT);
        assertThat(ledger.creditOnce("acme", 5_000, "opening", alice)).as("a configuration's key without a fingerprint").isEqualTo(Ledger.Applied.CONFLICT);
        assertThat(ledger.adjustOnce("acme", -7_000, "too much", "adj-1", alice)).isEqualTo(Ledger.Applied.REFUSED);
        assertThat(ledger.adjustOnce("acme", -600, "refund T-1", "adj-1", alice)).isEqualTo(Ledger.Applied.APPLIED);
        assertThat(ledger.adjustOnce("acme", -600, "refund T-1", "adj-1", alice)).isEqualTo(Ledger.Applied.REPLAYED);
        assertThat(ledger.adjustOnce("acme", -600, "refund T-2", "adj-1", alice)).isEqualTo(Ledger.Applied.CONFLICT);
        assertThat(ledger.accounts().snapshot("acme").availableMicros()).isEqualTo(1_000 + 5_000 - 600);
        assertReplayEqualsLive();
        long records = journal.recordsAfter(-1);

        Ledger restarted = Ledger.recover(journal, null, MAX_ACCOUNTS, clock::incrementAndGet);
        try {
            assertThat(restarted.creditOnce("acme", 5_000, "inv-1042", alice)).isEqualTo(Ledger.Applied.REPLAYED);
            assertThat(restarted.creditOnce("acme", 1, "inv-1042", alice)).isEqualTo(Ledger.Applied.CONFLICT);
            assertThat(restarted.adjustOnce("acme", -600, "refund T-1", "adj-1", alice)).isEqualTo(Ledger.Applied.REPLAYED);
            assertThat(journal.recordsAfter(-1)).isEqualTo(records);
            assertThat(restarted.accounts().snapshot("acme").availableMicros()).isEqualTo(5_400);
        } finally {
            restarted.close();
        }
        java.util.List<JournalEvent.Authored> authored = new java.util.ArrayList<>();
        journal.readAfter(-1, (index, event) -> {
            if (event instanceof JournalEvent.Authored a) {
                authored.add(a);
            }
        });
        assertThat(authored).extracting(JournalEvent.Authored::actor).containsExactly("ops-alice", "ops-alice");
        assertThat(authored.get(0).change()).isInstanceOfSatisfying(JournalEvent.CreditAdded.class,
                credit -> assertThat(Ledger.reference(credit.idempotencyKey())).isEqualTo("inv-1042"));
    }

    @Test
    void keysIssuedAndRevokedByAnOperatorAreRecordedWithTheirAuthor() {
        Ledger.Author bob = new Ledger.Author("ops-bob", "");
        String hash = ApiKeys.sha256Hex("tg-second");
        assertThat(ledger.issueKey(hash, "tg-seco", "batch", "acme", bob)).isTrue();
        assertThat(ledger.revokeKey(hash, bob)).isTrue();
        assertThat(ledger.keyRecord(hash)).isEqualTo(new Ledger.KeyRecord(hash, "tg-seco", "batch", "acme", true));
        Ledger restarted = Ledger.recover(journal, null, MAX_ACCOUNTS, clock::incrementAndGet);
        try {
            assertThat(restarted.keyRecords()).isEqualTo(ledger.keyRecords());
            assertThat(restarted.keys().lookup("tg-second")).isNull();
        } finally {
            restarted.close();
        }
    }

    @Test
    void aKeysCapsBindItsReservationsAndOutliveARestart() {
        String hash = key.sha256Hex();
        ledger.credit("acme", 100_000, "more");
        ledger.setCaps(hash, new Ledger.Caps(500, 2_000, -1), new Ledger.Author("ops", ""));
        ApiKeys.ApiKey capped = ledger.keys().lookup("tg-key");
        assertThat(capped.spendSlot()).isNotNegative();
        LedgerReservation first = ledger.reserve(capped, 100, 800, "r1");
        assertThat(first.heldMicros()).isEqualTo(500);
        assertThat(ledger.reserve(capped, 1, 800, "r2")).isNull();
        first.settle(200, facts("r1"), Usage.ZERO, false, "completed");
        assertThat(ledger.reserve(capped, 100, 800, "r3").heldMicros()).isEqualTo(300);
        assertReplayEqualsLive();

        Ledger restarted = Ledger.recover(journal, null, MAX_ACCOUNTS, clock::incrementAndGet);
        try {
            assertThat(restarted.caps(hash)).isEqualTo(new Ledger.Caps(500, 2_000, -1));
            // What was spent comes from the journal's rollups at start-up; here 200 of today's 500 were debited.
            restarted.restoreSpend(java.util.Map.of(hash, new long[] {200, 200, 200}), clock.get());
            assertThat(restarted.reserve(restarted.keys().lookup("tg-key"), 1, 800, "r4").heldMicros()).isEqualTo(300);
        } finally {
            restarted.close();
        }
        LedgerState replayed = new LedgerState();
        journal.readAfter(-1, replayed::apply);
        assertThat(replayed.keyLimits()).containsExactly(new LedgerState.KeyLimits(hash, 500, 2_000, -1));
    }

    @Test
    void aKeysScopeAndLabelChangeLiveAndOutliveARestartAndASnapshot() throws Exception {
        String hash = key.sha256Hex();
        ledger.setCaps(hash, new Ledger.Caps(900, -1, -1), new Ledger.Author("ops", ""));
        KeyScope scope = KeyScope.of("staging", "batch", java.util.List.of("gpt-4o*"), NOW_MS + 60_000, java.util.List.of("10.0.0.0/8"));
        ledger.setScope(hash, "ci-renamed", scope, new Ledger.Author("ops-ann", "scoped"));
        ApiKeys.ApiKey found = ledger.keys().lookup("tg-key");
        assertThat(found.scope()).isEqualTo(scope);
        assertThat(found.label()).isEqualTo("ci-renamed");
        assertThat(found.spendSlot()).as("a scope change keeps the caps' slot").isEqualTo(ledger.spendSlot(hash)).isNotNegative();
        assertThat(ledger.keyRecord(hash).label()).isEqualTo("ci-renamed");

        Ledger restarted = Ledger.recover(journal, null, MAX_ACCOUNTS, clock::incrementAndGet);
        try {
            assertThat(restarted.keys().lookup("tg-key")).isEqualTo(found);
            assertThat(restarted.keyRecords()).isEqualTo(ledger.keyRecords());
        } finally {
            restarted.close();
        }
        LedgerState replayed = new LedgerState();
        journal.readAfter(-1, replayed::apply);
        Path snapshots = directory.resolve("snapshots");
        java.nio.file.Files.createDirectories(snapshots);
        Snapshots.write(snapshots, replayed, null);
        LedgerState fromSnapshot = Snapshots.latest(snapshots).state();
        assertThat(fromSnapshot.stateHash()).as("the snapshot keeps scopes").isEqualTo(replayed.stateHash());
        assertThat(fromSnapshot.keyScopes()).containsExactlyElementsOf(replayed.keyScopes());
    }

    @Test
    void aRotatedKeyIsOpenedByItsNewSecretAndByTheOldOneOnlyUntilTheGraceEnds() throws Exception {
        String hash = key.sha256Hex();
        ledger.setCaps(hash, new Ledger.Caps(900, -1, -1), new Ledger.Author("ops", ""));
        String newSecret = "tg-new-secret";
        long graceEndMs = clock.get() + 10_000;
        ledger.rotateKey(hash, ApiKeys.sha256Hex(newSecret), "tg-new-", graceEndMs, new Ledger.Author("ops", "rotate"));
        ApiKeys.ApiKey byNew = ledger.keys().lookup(newSecret);
        ApiKeys.ApiKey byOld = ledger.keys().lookup("tg-key");
        assertThat(byNew.sha256Hex()).as("the key's identity stays").isEqualTo(hash);
        assertThat(byOld.sha256Hex()).isEqualTo(hash);
        assertThat(byNew.spendSlot()).as("both secrets spend through the same caps").isEqualTo(byOld.spendSlot()).isNotNegative();
        assertThat(byNew.unusableAt(graceEndMs + 1_000_000)).isNull();
        assertThat(byOld.unusableAt(graceEndMs - 1)).isNull();
        assertThat(byOld.unusableAt(graceEndMs)).isEqualTo("rotated");
        assertThat(ledger.keyRecord(hash).displayPrefix()).isEqualTo("tg-new-");

        // A second rotation: the first secret's grace already ended (the clock passed it), so only two secrets remain.
        clock.set(graceEndMs + 1);
        ledger.rotateKey(hash, ApiKeys.sha256Hex("tg-third"), "tg-thir", clock.get() + 5_000, new Ledger.Author("ops", ""));
        assertThat(ledger.keys().lookup("tg-key")).as("a secret past its grace is dropped at the next rotation").isNull();
        assertThat(ledger.keys().lookup(newSecret).unusableAt(clock.get())).isNull();
        assertThat(ledger.keys().lookup("tg-third")).isNotNull();
        assertThatThrownBy(() -> ledger.rotateKey(hash, ApiKeys.sha256Hex(newSecret), "tg-new-", clock.get(), new Ledger.Author("ops", "")))
                .isInstanceOf(IllegalArgumentException.class);

        Ledger restarted = Ledger.recover(journal, null, MAX_ACCOUNTS, clock::incrementAndGet);
        try {
            assertThat(restarted.keys().lookup(newSecret)).isEqualTo(ledger.keys().lookup(newSecret));
            assertThat(restarted.keys().lookup("tg-third")).isEqualTo(ledger.keys().lookup("tg-third"));
            assertThat(restarted.keys().lookup("tg-key")).isNull();
            assertThat(restarted.secrets(hash)).isEqualTo(ledger.secrets(hash));
        } finally {
            restarted.close();
        }
        assertThat(ledger.revokeKey(hash, new Ledger.Author("ops", "leak"))).isTrue();
        assertThat(ledger.keys().lookup(newSecret)).as("revoking a key stops every secret of it").isNull();
        assertThat(ledger.keys().lookup("tg-third")).isNull();
        LedgerState replayed = new LedgerState();
        journal.readAfter(-1, replayed::apply);
        Path snapshots = directory.resolve("snapshots");
        java.nio.file.Files.createDirectories(snapshots);
        Snapshots.write(snapshots, replayed, null);
        assertThat(Snapshots.latest(snapshots).state().stateHash()).as("the snapshot keeps secrets").isEqualTo(replayed.stateHash());
        assertThat(Snapshots.latest(snapshots).state().keySecrets()).isEqualTo(replayed.keySecrets());
    }

    @Test
    void aLaterRotationCapsEveryOlderSecretAtItsGraceEndLiveAndOnReplayAlike() throws Exception {
        String hash = key.sha256Hex();
        long thirtyDaysMs = 30L * 24 * 3600 * 1000;
        long firstGraceEndMs = clock.get() + thirtyDaysMs;
        ledger.rotateKey(hash, ApiKeys.sha256Hex("tg-second"), "tg-seco", firstGraceEndMs, new Ledger.Author("ops", "yearly"));
        assertThat(ledger.keys().lookup("tg-key").unusableAt(clock.get() + thirtyDaysMs / 2)).isNull();

        // A shorter grace on the next rotation shortens the first secret's too; it stays listed until then.
        long secondGraceEndMs = clock.get() + 5_000;
        ledger.rotateKey(hash, ApiKeys.sha256Hex("tg-third"), "tg-thir", secondGraceEndMs, new Ledger.Author("ops", "suspected leak"));
        assertThat(ledger.secrets(hash)).extracting(LedgerState.Secret::validUntilMs)
                .containsExactly(secondGraceEndMs, secondGraceEndMs, LedgerState.Secret.CURRENT);
        assertThat(ledger.keys().lookup("tg-key").unusableAt(secondGraceEndMs)).isEqualTo("rotated");
        assertThat(ledger.keys().lookup("tg-key").unusableAt(secondGraceEndMs - 1)).isNull();
        LedgerState beforeLeak = new LedgerState();
        journal.readAfter(-1, beforeLeak::apply);
        assertThat(beforeLeak.keySecrets().get(hash)).as("replay caps as the live ledger does").isEqualTo(ledger.secrets(hash));
        Path snapshots = directory.resolve("snapshots");
        java.nio.file.Files.createDirectories(snapshots);
        Snapshots.write(snapshots, beforeLeak, null);
        assertThat(Snapshots.latest(snapshots).state().keySecrets().get(hash)).as("the snapshot keeps the capped ends").isEqualTo(ledger.secrets(hash));

        // No grace at all (a leak): no older secret works a moment longer.
        ledger.rotateKey(hash, ApiKeys.sha256Hex("tg-fourth"), "tg-four", clock.get(), new Ledger.Author("ops", "leak"));
        long afterMs = clock.get();
        for (String old : new String[] {"tg-key", "tg-second", "tg-third"}) {
            ApiKeys.ApiKey found = ledger.keys().lookup(old);
            assertThat(found == null || found.unusableAt(afterMs) != null).as(old).isTrue();
        }
        assertThat(ledger.keys().lookup("tg-fourth").unusableAt(afterMs)).isNull();
        var secrets = ledger.secrets(hash);
        assertThat(secrets.getLast().validUntilMs()).isEqualTo(LedgerState.Secret.CURRENT);
        assertThat(secrets.subList(0, secrets.size() - 1)).extracting(LedgerState.Secret::validUntilMs).allMatch(endMs -> endMs <= afterMs);

        LedgerState replayed = new LedgerState();
        journal.readAfter(-1, replayed::apply);
        assertThat(replayed.keySecrets().get(hash)).as("replay gives the live secrets").isEqualTo(ledger.secrets(hash));
        Ledger restarted = Ledger.recover(journal, null, MAX_ACCOUNTS, clock::incrementAndGet);
        try {
            assertThat(restarted.secrets(hash)).isEqualTo(ledger.secrets(hash));
            for (String secret : new String[] {"tg-key", "tg-second", "tg-third", "tg-fourth"}) {
                assertThat(restarted.keys().lookup(secret)).as(secret).isEqualTo(ledger.keys().lookup(secret));
            }
        } finally {
            restarted.close();
        }
        Snapshots.write(snapshots, replayed, null);
        assertThat(Snapshots.latest(snapshots).state().keySecrets()).isEqualTo(replayed.keySecrets());
    }
}
