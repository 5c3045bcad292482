package dev.tollgate.journal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.tuple;

import dev.tollgate.config.Durability;
import dev.tollgate.journal.JournalEvent.Released;
import dev.tollgate.journal.JournalEvent.RequestFacts;
import dev.tollgate.metering.ApiKeys;
import dev.tollgate.metering.Usage;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The recovery policy: what a crash left reserved goes back to its account, each with a Released
 * record of reason {@code recovery}, and the report names those reservations and the sum they held
 * (the exposure: what providers may still bill for requests no account paid).
 */
class LedgerRecoveryTest {
    private static final long START_MS = 1_795_000_000_000L;

    @TempDir
    Path directory;

    private final AtomicLong clock = new AtomicLong(START_MS);
    private final List<Journal> crashed = new ArrayList<>();

    @AfterEach
    void closeCrashedJournals() {
        crashed.forEach(Journal::close);
    }

    private Path journalDirectory() {
        return directory.resolve("journal");
    }

    private Path snapshotDirectory() {
        return journalDirectory().resolve("snapshots");
    }

    private Ledger start() {
        Journal journal = Journal.open(journalDirectory(), Durability.PAGE_CACHE, 100);
        crashed.add(journal); // closed after the test; until then it is as good as crashed
        return Ledger.recover(journal, snapshotDirectory(), 16, clock::incrementAndGet);
    }

    private static RequestFacts facts(LedgerReservation reservation, String requestId) {
        return new RequestFacts(requestId, reservation.key().accountId(), reservation.key().sha256Hex(), Ledger.DEFAULT_LANE, "openai", "gpt-4o-mini",
                "/v1/chat/completions", START_MS, START_MS + 10, "");
    }

    private static List<Released> releasedRecords(Journal journal) {
        List<Released> released = new ArrayList<>();
        journal.readAfter(-1, (index, event) -> {
            if (event instanceof Released e) {
                released.add(e);
            }
        });
        return released;
    }

    @Test
    void recoveryReleasesWhatACrashLeftOpenAndReportsItAsExposure() {
        Ledger ledger = start();
        ledger.openAccount("acme");
        ledger.openAccount("globex");
        ledger.credit("acme", 10_000, "opening-acme");
        ledger.credit("globex", 5_000, "opening-globex");
        String acmeRaw = "tg-acme-key";
        String globexRaw = "tg-globex-key";
        ledger.issueKey(ApiKeys.sha256Hex(acmeRaw), ApiKeys.displayPrefix(acmeRaw), "acme-ci", "acme");
        ledger.issueKey(ApiKeys.sha256Hex(globexRaw), ApiKeys.displayPrefix(globexRaw), "globex-ci", "globex");
        ApiKeys.ApiKey acme = ledger.keys().lookup(acmeRaw);
        ApiKeys.ApiKey globex = ledger.keys().lookup(globexRaw);

        LedgerReservation settled = ledger.reserve(acme, 100, 400, "req-settled");
        LedgerReservation released = ledger.reserve(globex, 100, 700, "req-released");
        LedgerReservation open1 = ledger.reserve(acme, 300, 300, "req-open-1");
        LedgerReservation open2 = ledger.reserve(acme, 200, 200, "req-open-2");
        assertThat(open2.extend(50, 50)).isTrue();
        LedgerReservation open3 = ledger.reserve(globex, 1_000, 1_000, "req-open-3");
        settled.settle(250, facts(settled, "req-settled"), new Usage(100, 0, 0, 50, 0), true, "completed");
        released.release(facts(released, "req-released"), "upstream_error");
        // A key revoked while its request is in flight: its reservation is recovered like any other.
        ledger.revokeKey(globex.sha256Hex());
        int acmeSlot = ledger.accounts().slotOf("acme");
        assertThat(ledger.balances().reservedMicros(acmeSlot)).isEqualTo(550);

        // Crash: the ledger is dropped with three reservations open.
        Ledger recovered = start();
        RecoveryReport report = recovered.recoveryReport();
        assertThat(report.snapshotIndex()).isEqualTo(-1);
        assertThat(report.releasedOnRecovery())
                .extracting(LedgerState.OpenReservation::reservationId, LedgerState.OpenReservation::accountId, LedgerState.OpenReservation::heldMicros,
                        LedgerState.OpenReservation::requestId)
                .containsExactly(tuple(open1.reservationId(), "acme", 300L, "req-open-1"), tuple(open2.reservationId(), "acme", 250L, "req-open-2"),
                        tuple(open3.reservationId(), "globex", 1_000L, "req-open-3"));
        assertThat(report.exposureMicros()).isEqualTo(1_550);
        assertThat(report.recordsReplayed()).isEqualTo(15);

        // The money is back in available; what was settled stays debited.
        var acmeAfter = recovered.accounts().snapshot("acme");
        var globexAfter = recovered.accounts().snapshot("globex");
        assertThat(acmeAfter.reservedMicros()).isZero();
        assertThat(acmeAfter.availableMicros()).isEqualTo(10_000 - 250);
        assertThat(acmeAfter.debitedMicros()).isEqualTo(250);
        assertThat(globexAfter.reservedMicros()).isZero();
        assertThat(globexAfter.availableMicros()).isEqualTo(5_000);
        assertThat(recovered.keys().lookup(globexRaw)).as("still revoked").isNull();
        assertThat(recovered.keys().lookup(acmeRaw)).isNotNull();

        // Each is closed in the journal by one Released of reason recovery, naming its request.
        List<Released> recoveryRecords = releasedRecords(recovered.journal()).stream().filter(r -> r.reason().equals(Ledger.RECOVERY_REASON)).toList();
        assertThat(recoveryRecords).extracting(Released::reservationId)
                .containsExactly(open1.reservationId(), open2.reservationId(), open3.reservationId());
        assertThat(recoveryRecords).extracting(r -> r.request().requestId()).containsExactly("req-open-1", "req-open-2", "req-open-3");
        assertThat(recoveryRecords).extracting(r -> r.request().keyHash()).containsExactly(acme.sha256Hex(), acme.sha256Hex(), globex.sha256Hex());

        // New reservations never reuse an id, and retried top-ups stay applied once.
        LedgerReservation next = recovered.reserve(recovered.keys().lookup(acmeRaw), 10, 10, "req-next");
        assertThat(next.reservationId()).isGreaterThan(open3.reservationId());
        assertThat(recovered.credit("acme", 10_000, "opening-acme")).isFalse();

        // Another crash right away: only the new reservation is open; nothing is released twice.
        Ledger again = start();
        assertThat(again.recoveryReport().releasedOnRecovery()).extracting(LedgerState.OpenReservation::reservationId)
                .containsExactly(next.reservationId());
        assertThat(again.recoveryReport().exposureMicros()).isEqualTo(10);
        Ledger calm = start();
        assertThat(calm.recoveryReport().releasedOnRecovery()).isEmpty();
        assertThat(calm.recoveryReport().exposureMicros()).isZero();
        assertThat(releasedRecords(calm.journal())).filteredOn(r -> r.reason().equals(Ledger.RECOVERY_REASON)).hasSize(4);
    }

    @Test
    void recoveryFromASnapshotTakenWithReservationsOpenReportsThemToo() {
        Ledger ledger = start();
        ledger.openAccount("acme");
        ledger.credit("acme", 10_000, "opening");
        String raw = "tg-acme-key";
        ledger.issueKey(ApiKeys.sha256Hex(raw), ApiKeys.displayPrefix(raw), "acme-ci", "acme");
        ApiKeys.ApiKey key = ledger.keys().lookup(raw);
        LedgerReservation before = ledger.reserve(key, 700, 700, "req-before-snapshot");
        LedgerReservation settledAfter = ledger.reserve(key, 100, 100, "req-settled-after-snapshot");

        LedgerState state = new LedgerState();
        ledger.journal().readAfter(-1, state::apply);
        Snapshots.write(snapshotDirectory(), state, null);

        settledAfter.settle(60, facts(settledAfter, "req-settled-after-snapshot"), Usage.ZERO, false, "completed");
        LedgerReservation after = ledger.reserve(key, 40, 40, "req-after-snapshot");

        Ledger recovered = start();
        RecoveryReport report = recovered.recoveryReport();
        assertThat(report.snapshotIndex()).isEqualTo(state.lastIndex());
        assertThat(report.recordsReplayed()).isEqualTo(2);
        assertThat(report.releasedOnRecovery()).extracting(LedgerState.OpenReservation::reservationId)
                .containsExactly(before.reservationId(), after.reservationId());
        assertThat(report.exposureMicros()).isEqualTo(740);
        var account = recovered.accounts().snapshot("acme");
        assertThat(account.availableMicros()).isEqualTo(10_000 - 60);
        assertThat(account.reservedMicros()).isZero();
        assertThat(account.debitedMicros()).isEqualTo(60);
    }
}
