package dev.tollgate.proxy.sim;

import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Per-request instructions to the simulator, read from the request's own text so that a test can
 * steer it through any client, SDK or proxy without touching headers.
 *
 * <pre>
 * [sim:events=N]          N content deltas (= output tokens, before any cap)
 * [sim:delay-ms=N]        N ms between two consecutive SSE events
 * [sim:first-byte-ms=N]   N ms before the first byte of the response
 * [sim:cached=N]          N cached / cache-read input tokens
 * [sim:cache-write=N]     N cache-creation input tokens (Anthropic)
 * [sim:reasoning=N]       N reasoning tokens, counted inside the output tokens and against the cap
 * [sim:no-usage]          no usage anywhere in the answer
 * [sim:error=STATUS]      answer at once with that HTTP status in the provider's error shape
 * [sim:fail-after=N]      streams only: close the connection after N content deltas
 * [sim:ignore-max-tokens] keep generating past the request's output cap
 * [sim:error-event=N]     streams only: after N content deltas, the provider's own error event, then the end of the stream
 * [sim:usage=FAULT]       report the output tokens wrongly, as a misbehaving provider might, where the usage says them:
 *                         negative (-5), huge (1000000000000), overflow (100000000000000: its cost overflows a long),
 *                         beyond-long (99999999999999999999), string ("24"), fraction (24.5)
 * </pre>
 *
 * A later directive of the same name wins. Unknown names are ignored, so a typo is visible only
 * in the result, never as an error. An absent number is {@link #ABSENT}.
 */
record Directives(int events, int interEventDelayMs, int firstByteDelayMs, int cachedTokens, int cacheWriteTokens,
                  int reasoningTokens, boolean noUsage, int errorStatus, int failAfterDeltas, boolean ignoreMaxTokens, UsageFault usageFault,
                  int errorEventAfterDeltas) {

    /** How {@code [sim:usage=...]} misreports the output tokens: the raw JSON value written instead of the count. */
    enum UsageFault {
        NONE(null), NEGATIVE("-5"), HUGE("1000000000000"), OVERFLOW("100000000000000"), BEYOND_LONG("99999999999999999999"),
        STRING("\"24\""), FRACTION("24.5");

        final String json;

        UsageFault(String json) {
            this.json = json;
        }

        static UsageFault named(String name) {
            for (UsageFault fault : values()) {
                if (fault != NONE && fault.name().toLowerCase(java.util.Locale.ROOT).replace('_', '-').equals(name)) {
                    return fault;
                }
            }
            return NONE;
        }
    }

    static final int ABSENT = -1;
    static final Directives NONE = new Directives(ABSENT, ABSENT, ABSENT, 0, 0, 0, false, ABSENT, ABSENT, false, UsageFault.NONE, ABSENT);

    private static final Pattern DIRECTIVE = Pattern.compile("\\[sim:([a-z-]+)(?:=(\\d{1,9}|[a-z][a-z-]{0,19}))?]");

    static Directives parse(Iterable<String> texts) {
        Builder builder = new Builder();
        for (String text : texts) {
            // Cheap pre-check: most prompts carry no directive and the regex is not free.
            if (text.contains("[sim:")) {
                Matcher matcher = DIRECTIVE.matcher(text);
                while (matcher.find()) {
                    builder.apply(matcher.group(1), matcher.group(2));
                }
            }
        }
        return builder.build();
    }

    boolean hasError() {
        return errorStatus != ABSENT;
    }

    private static final class Builder {
        private int events = ABSENT;
        private int interEventDelayMs = ABSENT;
        private int firstByteDelayMs = ABSENT;
        private int cachedTokens;
        private int cacheWriteTokens;
        private int reasoningTokens;
        private boolean noUsage;
        private int errorStatus = ABSENT;
        private int failAfterDeltas = ABSENT;
        private boolean ignoreMaxTokens;
        private UsageFault usageFault = UsageFault.NONE;
        private int errorEventAfterDeltas = ABSENT;

        void apply(String name, String value) {
            int number = value == null || !Character.isDigit(value.charAt(0)) ? ABSENT : Integer.parseInt(value);
            switch (name) {
                case "events" -> events = number;
                case "delay-ms" -> interEventDelayMs = number;
                case "first-byte-ms" -> firstByteDelayMs = number;
                case "cached" -> cachedTokens = Math.max(0, number);
                case "cache-write" -> cacheWriteTokens = Math.max(0, number);
                case "reasoning" -> reasoningTokens = Math.max(0, number);
                case "no-usage" -> noUsage = true;
                case "error" -> errorStatus = number >= 100 && number <= 599 ? number : ABSENT;
                case "fail-after" -> failAfterDeltas = number;
                case "ignore-max-tokens" -> ignoreMaxTokens = true;
                case "error-event" -> errorEventAfterDeltas = number;
                case "usage" -> usageFault = value == null ? UsageFault.NONE : UsageFault.named(value);
                default -> { }
            }
        }

        Directives build() {
            return new Directives(events, interEventDelayMs, firstByteDelayMs, cachedTokens, cacheWriteTokens,
                    reasoningTokens, noUsage, errorStatus, failAfterDeltas, ignoreMaxTokens, usageFault, errorEventAfterDeltas);
        }
    }
}
