package dev.tollgate.bench;

import dev.tollgate.journal.JournalEvent.RequestFacts;
import dev.tollgate.journal.JournalEvent.Settled;
import dev.tollgate.metering.ApiKeys;
import dev.tollgate.metering.Usage;
import java.util.HexFormat;
import java.util.Random;

/** Journal records shaped like the ones the proxy writes: the same field lengths, ids and reasons. */
final class BenchEvents {
    static final String[] MODELS = {"gpt-4o-mini", "gpt-4.1", "claude-haiku-4-5", "claude-sonnet-4-5", "gemini-2.5-flash", "deepseek-chat"};
    static final String[] PROVIDERS = {"openai", "openai", "anthropic", "anthropic", "google", "deepseek"};
    static final String[] ENDPOINTS = {"/v1/chat/completions", "/v1/chat/completions", "/v1/messages", "/v1/messages", "/v1/chat/completions",
            "/v1/chat/completions"};

    private BenchEvents() {
    }

    static String accountId(int account) {
        return "acct-" + account;
    }

    static String rawKey(int account, int key) {
        return "tg-bench-" + account + "-" + key;
    }

    static String keyHash(int account, int key) {
        return ApiKeys.sha256Hex(rawKey(account, key));
    }

    /** {@code tg_req_} and 16 hex digits, as the proxy names requests. */
    static String requestId(Random random) {
        return "tg_req_" + HexFormat.of().toHexDigits(random.nextLong());
    }

    static RequestFacts facts(Random random, String requestId, String accountId, String keyHash, int model, long startMs, long endMs) {
        return new RequestFacts(requestId, accountId, keyHash, "interactive", PROVIDERS[model], MODELS[model], ENDPOINTS[model], startMs, endMs,
                "req_" + HexFormat.of().toHexDigits(random.nextLong()) + HexFormat.of().toHexDigits(random.nextLong()));
    }

    static Usage usage(Random random) {
        long output = 20 + random.nextInt(900);
        return new Usage(200 + random.nextInt(3_000), random.nextInt(4) == 0 ? 1_024 * (1 + random.nextInt(4)) : 0, 0, output, output / 5);
    }

    /** A completed chat request's settlement: about 230 bytes on the wire. */
    static Settled settlement(Random random, long reservationId, long nowMs) {
        int account = random.nextInt(1_000);
        int model = random.nextInt(MODELS.length);
        long cost = 50 + random.nextInt(20_000);
        return new Settled(nowMs, reservationId, facts(random, requestId(random), accountId(account), keyHash(account, 0), model, nowMs - 900, nowMs),
                usage(random), true, cost, cost, 0, "completed");
    }
}
