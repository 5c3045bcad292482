package dev.tollgate.journal.reconcile;

import dev.tollgate.config.Durability;
import dev.tollgate.journal.Journal;
import dev.tollgate.journal.JournalEvent.RequestFacts;
import dev.tollgate.journal.Ledger;
import dev.tollgate.journal.LedgerReservation;
import dev.tollgate.metering.ApiKeys;
import dev.tollgate.metering.Usage;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A seeded random history driven through the real {@link Ledger} on a real journal, with a clock the
 * test moves: credits (some retried with the same idempotency key), adjustments both ways (some
 * refused), keys issued and revoked, reservations made, extended, settled (some beyond what they
 * hold, so written off) and released. The journal's daily cycles roll by the same clock, so a few
 * thousand steps span days and a month boundary in milliseconds.
 */
final class SimulatedHistory implements AutoCloseable {
    static final String[][] MODEL_ROWS = {
            {"openai", "gpt-4o-mini"}, {"anthropic", "claude-haiku-4-5"}, {"google", "gemini-2.5-flash"}, {"deepseek", "deepseek-chat"}};
    static final String[] LANES = {"interactive", "batch"};

    final AtomicLong clock;
    final Path journalDirectory;
    final Journal journal;
    final Ledger ledger;
    final Random random;
    final List<String> accounts = new ArrayList<>();
    final List<ApiKeys.ApiKey> keys = new ArrayList<>();
    final List<String> creditKeysUsed = new ArrayList<>();
    private final List<Open> open = new ArrayList<>();
    private final long meanStepMs;
    private long requests;

    private record Open(LedgerReservation reservation, String requestId, long startMs) {
    }

    SimulatedHistory(Path journalDirectory, long seed, Instant start, long meanStepMs) {
        this.clock = new AtomicLong(start.toEpochMilli());
        this.journalDirectory = journalDirectory;
        this.journal = Journal.open(journalDirectory, Durability.PAGE_CACHE, 0, clock::get);
        this.ledger = Ledger.recover(journal, journalDirectory.resolve("snapshots"), 64, clock::get);
        this.random = new Random(seed);
        this.meanStepMs = meanStepMs;
        for (int i = 0; i < 3; i++) {
            openAccount("acct-" + i);
        }
    }

    void openAccount(String accountId) {
        ledger.openAccount(accountId);
        accounts.add(accountId);
        credit(accountId, 2_000_000 + random.nextInt(3_000_000));
        if (random.nextBoolean()) {
            // Within the balances the history moves through, so low-balance alerts are raised, re-armed and raised again.
            ledger.setLowBalanceThreshold(accountId, random.nextInt(3_000_000), new Ledger.Author("ops", "history"));
        }
        issueKey(accountId);
    }

    void issueKey(String accountId) {
        byte[] hash = new byte[32];
        random.nextBytes(hash);
        String keyHash = HexFormat.of().formatHex(hash);
        ledger.issueKey(keyHash, "tg-" + keyHash.substring(0, 4), "key-" + keys.size(), accountId);
        if (random.nextBoolean()) {
            // Generous caps, so they are journaled, snapshotted and replayed without refusing the history's reservations.
            ledger.setCaps(keyHash, new Ledger.Caps(random.nextBoolean() ? -1 : 1L << 40, 1L << 41, random.nextBoolean() ? -1 : 1L << 42),
                    new Ledger.Author("ops", "history"));
            if (random.nextBoolean()) {
                ledger.setKeyAlertPercent(keyHash, 1 + random.nextInt(100), new Ledger.Author("ops", "history"));
            }
        }
        if (random.nextInt(3) == 0) {
            ledger.setScope(keyHash, "scoped-" + keys.size(), dev.tollgate.metering.KeyScope.of(random.nextBoolean() ? "staging" : "",
                    random.nextBoolean() ? "batch" : "", random.nextBoolean() ? List.of("gpt-4o*", "claude-haiku-4-5") : List.of(),
                    random.nextBoolean() ? -1 : clock.get() + random.nextInt(1_000_000), random.nextBoolean() ? List.of("10.0.0.0/8") : List.of()),
                    new Ledger.Author("ops", "history"));
        }
        keys.add(ledger.keys().lookupByHash(keyHash));
        for (int rotations = random.nextInt(4) == 0 ? 1 + random.nextInt(3) : 0; rotations > 0; rotations--) {
            byte[] secret = new byte[32];
            random.nextBytes(secret);
            String secretHash = HexFormat.of().formatHex(secret);
            ledger.rotateKey(keyHash, secretHash, "tg-" + secretHash.substring(0, 4), clock.get() + random.nextInt(2_000_000),
                    new Ledger.Author("ops", "rotation"));
        }
    }

    void credit(String accountId, long amountMicros) {
        String idempotencyKey = "topup-" + creditKeysUsed.size();
        creditKeysUsed.add(idempotencyKey);
        ledger.credit(accountId, amountMicros, idempotencyKey);
    }

    /** Runs {@code steps} random operations, moving the clock between them. */
    void run(int steps) {
        for (int i = 0; i < steps; i++) {
            step();
            clock.addAndGet((long) (random.nextDouble() * 2 * meanStepMs));
        }
    }

    void step() {
        int roll = random.nextInt(100);
        String account = accounts.get(random.nextInt(accounts.size()));
        if (roll < 4) {
            credit(account, 1 + random.nextInt(2_000_000));
        } else if (roll < 5) {
            // A retried top-up: the same idempotency key again applies nothing.
            ledger.credit(account, 999_999, creditKeysUsed.get(random.nextInt(creditKeysUsed.size())));
        } else if (roll < 8) {
            long amount = random.nextBoolean() ? 1 + random.nextInt(500_000) : -(1 + random.nextInt(800_000));
            String reason = switch (random.nextInt(3)) {
                case 0 -> "goodwill credit";
                case 1 -> "refund, ticket \"T-" + random.nextInt(1000) + "\"";
                default -> "correction";
            };
            ledger.adjust(account, amount, reason, "adjust-" + i(100_000));
        } else if (roll < 9) {
            issueKey(account);
        } else if (roll < 10 && keys.size() > accounts.size() + 1) {
            ApiKeys.ApiKey key = keys.remove(random.nextInt(keys.size()));
            ledger.revokeKey(key.sha256Hex());
        } else if (roll < 45 || open.isEmpty()) {
            reserve();
        } else if (roll < 52) {
            Open o = open.get(random.nextInt(open.size()));
            o.reservation().extend(1, 1 + random.nextInt(50_000));
        } else if (roll < 85) {
            Open o = open.remove(random.nextInt(open.size()));
            long held = o.reservation().heldMicros();
            long cost = random.nextInt(10) == 0 ? held + random.nextInt(100_000) : (long) (random.nextDouble() * held);
            long output = random.nextInt(4_000);
            Usage usage = new Usage(random.nextInt(10_000), random.nextInt(3) == 0 ? random.nextInt(5_000) : 0,
                    random.nextInt(5) == 0 ? random.nextInt(2_000) : 0, output, random.nextInt(4) == 0 ? output / 2 : 0);
            o.reservation().settle(cost, facts(o), usage, random.nextInt(8) != 0, random.nextInt(10) == 0 ? "client_disconnected" : "completed");
        } else {
            Open o = open.remove(random.nextInt(open.size()));
            o.reservation().release(facts(o), random.nextBoolean() ? "upstream_status_500" : "client_disconnected");
        }
    }

    /** A request admitted: a reservation left open (in flight) until a later step settles or releases it. */
    boolean reserve() {
        ApiKeys.ApiKey key = keys.get(random.nextInt(keys.size()));
        long max = 1 + random.nextInt(200_000);
        String requestId = "tg_req_" + Long.toHexString(++requests);
        LedgerReservation reservation = ledger.reserve(key, Math.min(max, 1 + random.nextInt(1_000)), max, requestId);
        if (reservation != null) {
            open.add(new Open(reservation, requestId, clock.get()));
        }
        return reservation != null;
    }

    private int i(int bound) {
        return random.nextInt(bound);
    }

    private RequestFacts facts(Open o) {
        String[] row = MODEL_ROWS[random.nextInt(MODEL_ROWS.length)];
        ApiKeys.ApiKey key = o.reservation().key();
        return new RequestFacts(o.requestId(), key.accountId(), key.sha256Hex(), LANES[random.nextInt(LANES.length)], row[0], row[1],
                "/v1/chat/completions", o.startMs(), Math.max(o.startMs(), clock.get()), "up-" + o.requestId());
    }

    /** Settles or releases everything still open, so the history ends quiescent. */
    void closeAll() {
        while (!open.isEmpty()) {
            Open o = open.remove(open.size() - 1);
            o.reservation().release(facts(o), "end_of_test");
        }
    }

    int openCount() {
        return open.size();
    }

    @Override
    public void close() {
        journal.close();
    }
}
