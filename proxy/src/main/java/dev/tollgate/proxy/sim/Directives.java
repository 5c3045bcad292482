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
 * [sim:ignore-max-tokens] keep generating past the request's output cap
 * [sim:cache-write-1h=N]  N one-hour cache-creation tokens (Anthropic), beside the five-minute ones of cache-write
 * [sim:audio-in=N]        N of the prompt tokens are audio (OpenAI's prompt_tokens_details.audio_tokens)
 * [sim:audio-out=N]       N of the completion tokens are audio (completion_tokens_details.audio_tokens)
 * [sim:web-search=N]      N web searches run by the provider (Anthropic's usage.server_tool_use.web_search_requests,
 *                         the Responses API's web_search_call output items)
 * [sim:service-tier=NAME] report the request served at service tier NAME (flex, priority...) where the provider says it:
 *                         OpenAI's service_tier, Anthropic's usage.service_tier (default: "default", "standard")
 * [sim:usage=FAULT]       report the output tokens wrongly, as a misbehaving provider might, where the usage says them:
 *                         negative (-5), huge (1000000000000), overflow (100000000000000: its cost overflows a long),
 *                         beyond-long (99999999999999999999), string ("24"), fraction (24.5), missing (no output count
 *                         in a usage that is otherwise there), repeated (the output count written twice in one usage)
 * </pre>
 *
 * Faults of the wire itself (see {@link WireFaults}; "after N" counts content deltas, "event N" every event from 1):
 * <pre>
 * [sim:hang=before-head]  read the request, never answer
 * [sim:hang-after=N]      streams only: after N content deltas stop writing and keep the connection open
 * [sim:reset-after=N]     after N content deltas (a JSON answer: instead of it) reset the connection (RST)
 * [sim:fail-after=N]      streams only: close the connection (FIN) after N content deltas
 * [sim:error-event=N]     streams only: after N content deltas, the provider's own error event, then the end of the stream
 * [sim:truncate-event=N]  streams only: the N-th event cut in half, then the connection closed
 * [sim:malformed-event=N] streams only: the N-th event's JSON without its closing brace; the stream goes on
 * [sim:error-body]        a 200 whose JSON body is the provider's error object (streamed or not)
 * [sim:request-id=FAULT]  the request-id header as hostile bytes (over 256 bytes, not UTF-8, quotes), invalid (control
 *                         bytes HTTP forbids) or long (4,000 bytes)
 * </pre>
 *
 * A later directive of the same name wins. Unknown names are ignored, so a typo is visible only
 * in the result, never as an error. An absent number is {@link #ABSENT}.
 */
record Directives(int events, int interEventDelayMs, int firstByteDelayMs, int cachedTokens, int cacheWriteTokens,
                  int reasoningTokens, boolean noUsage, int errorStatus, boolean ignoreMaxTokens, UsageFault usageFault,
                  WireFaults wire, String serviceTier, Parts parts) {

    /** Directives without a service tier: the surface's default one is reported. */
    Directives(int events, int interEventDelayMs, int firstByteDelayMs, int cachedTokens, int cacheWriteTokens, int reasoningTokens, boolean noUsage,
               int errorStatus, boolean ignoreMaxTokens, UsageFault usageFault, WireFaults wire) {
        this(events, interEventDelayMs, firstByteDelayMs, cachedTokens, cacheWriteTokens, reasoningTokens, noUsage, errorStatus, ignoreMaxTokens,
                usageFault, wire, null, Parts.NONE);
    }

    /** The counts reported as parts of a kind or beside the tokens, each priced apart where a row says so. */
    record Parts(int cacheWrite1hTokens, int audioInputTokens, int audioOutputTokens, int webSearches) {
        static final Parts NONE = new Parts(0, 0, 0, 0);
    }

    /** The service tier to report: the directive's, else {@code surfaceDefault}. */
    String serviceTier(String surfaceDefault) {
        return serviceTier == null ? surfaceDefault : serviceTier;
    }

    /** How {@code [sim:usage=...]} misreports the output tokens: the raw JSON value written instead of the count. */
    enum UsageFault {
        NONE(null), NEGATIVE("-5"), HUGE("1000000000000"), OVERFLOW("100000000000000"), BEYOND_LONG("99999999999999999999"),
        STRING("\"24\""), FRACTION("24.5"), MISSING(null), REPEATED(null);

        /** The raw JSON written instead of the count; null for the faults that change the fields, not the value. */
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
    static final Directives NONE = new Directives(ABSENT, ABSENT, ABSENT, 0, 0, 0, false, ABSENT, false, UsageFault.NONE, WireFaults.NONE);

    private static final Pattern DIRECTIVE = Pattern.compile("\\[sim:([a-z0-9-]+)(?:=(\\d{1,9}|[a-z][a-z_-]{0,19}))?]");

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
        private boolean ignoreMaxTokens;
        private UsageFault usageFault = UsageFault.NONE;
        private boolean hangBeforeHead;
        private int hangAfterDeltas = ABSENT;
        private int resetAfterDeltas = ABSENT;
        private int failAfterDeltas = ABSENT;
        private int errorEventAfterDeltas = ABSENT;
        private int truncateEvent = ABSENT;
        private int malformedEvent = ABSENT;
        private boolean errorBody;
        private WireFaults.RequestIdFault requestId = WireFaults.RequestIdFault.NONE;
        private String serviceTier;
        private int cacheWrite1hTokens;
        private int audioInputTokens;
        private int audioOutputTokens;
        private int webSearches;

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
                case "hang" -> hangBeforeHead = "before-head".equals(value);
                case "hang-after" -> hangAfterDeltas = number;
                case "reset-after" -> resetAfterDeltas = number;
                case "truncate-event" -> truncateEvent = number >= 1 ? number : ABSENT;
                case "malformed-event" -> malformedEvent = number >= 1 ? number : ABSENT;
                case "error-body" -> errorBody = true;
                case "request-id" -> requestId = WireFaults.RequestIdFault.named(value);
                case "service-tier" -> serviceTier = number == ABSENT ? value : serviceTier;
                case "cache-write-1h" -> cacheWrite1hTokens = Math.max(0, number);
                case "audio-in" -> audioInputTokens = Math.max(0, number);
                case "audio-out" -> audioOutputTokens = Math.max(0, number);
                case "web-search" -> webSearches = Math.max(0, number);
                default -> { }
            }
        }

        Directives build() {
            return new Directives(events, interEventDelayMs, firstByteDelayMs, cachedTokens, cacheWriteTokens,
                    reasoningTokens, noUsage, errorStatus, ignoreMaxTokens, usageFault,
                    new WireFaults(hangBeforeHead, hangAfterDeltas, resetAfterDeltas, failAfterDeltas, errorEventAfterDeltas,
                            truncateEvent, malformedEvent, errorBody, requestId), serviceTier,
                    cacheWrite1hTokens + audioInputTokens + audioOutputTokens + webSearches == 0 ? Parts.NONE
                            : new Parts(cacheWrite1hTokens, audioInputTokens, audioOutputTokens, webSearches));
        }
    }
}
