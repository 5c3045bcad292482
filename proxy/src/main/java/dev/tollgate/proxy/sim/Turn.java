package dev.tollgate.proxy.sim;

/**
 * One generated answer, decided in full before the first byte so that streaming and non-streaming
 * answers to the same request report the same usage.
 *
 * @param model            the request's model, echoed back
 * @param directives       the request's directives
 * @param promptTokens     the prompt as counted by {@link Prompt} (cache directives not applied)
 * @param contentTokens    content deltas to produce; each is one output token
 * @param reasoningTokens  hidden reasoning tokens, part of the output tokens
 * @param truncated        the output cap stopped generation (finish_reason "length" and kin)
 * @param createdEpochSeconds the {@code created} timestamp
 */
record Turn(String model, Directives directives, int promptTokens, int contentTokens, int reasoningTokens,
            boolean truncated, long createdEpochSeconds) {

    static final int NO_CAP = Directives.ABSENT;

    /**
     * Plans the answer: {@code [sim:events]} (else {@code defaultEvents}) content tokens plus
     * {@code [sim:reasoning]} reasoning tokens; when together they exceed {@code outputCapTokens},
     * reasoning is kept first, content gets the rest and the answer is truncated, unless
     * {@code [sim:ignore-max-tokens]} asks for a misbehaving upstream.
     */
    static Turn plan(String model, Directives directives, int promptTokens, int defaultEvents, int outputCapTokens) {
        int requested = directives.events() != Directives.ABSENT ? directives.events() : defaultEvents;
        int reasoning = directives.reasoningTokens();
        boolean capped = outputCapTokens != NO_CAP && !directives.ignoreMaxTokens()
                && (long) requested + reasoning > outputCapTokens;
        int content = requested;
        if (capped) {
            reasoning = Math.min(reasoning, outputCapTokens);
            content = outputCapTokens - reasoning;
        }
        return new Turn(model, directives, promptTokens, content, reasoning, capped, System.currentTimeMillis() / 1000);
    }

    int outputTokens() {
        return contentTokens + reasoningTokens;
    }

    /** Writes {@code field} with the output tokens, or as wrongly as {@code [sim:usage=...]} asks. */
    void writeOutputTokens(com.fasterxml.jackson.core.JsonGenerator g, String field) throws java.io.IOException {
        switch (directives.usageFault()) {
            case NONE -> g.writeNumberField(field, outputTokens());
            case MISSING -> { }
            case REPEATED -> {
                // A duplicate key: a reader that adds up what it sees bills twice.
                g.writeNumberField(field, outputTokens());
                g.writeNumberField(field, outputTokens());
            }
            default -> {
                g.writeFieldName(field);
                g.writeRawValue(directives.usageFault().json);
            }
        }
    }

    String text() {
        return SimTokens.text(contentTokens);
    }

    boolean reportsUsage() {
        return !directives.noUsage();
    }

    /** OpenAI reports cached tokens inside the prompt tokens, so the prompt never counts fewer than the cached. */
    int openAiPromptTokens() {
        return Math.max(promptTokens, directives.cachedTokens());
    }

    int cachedTokens() {
        return directives.cachedTokens();
    }

    /** All cache writes: the five-minute ones of {@code [sim:cache-write]} and the one-hour ones of {@code [sim:cache-write-1h]}. */
    int cacheWriteTokens() {
        return directives.cacheWriteTokens() + directives.parts().cacheWrite1hTokens();
    }

    int cacheWrite5mTokens() {
        return directives.cacheWriteTokens();
    }

    int cacheWrite1hTokens() {
        return directives.parts().cacheWrite1hTokens();
    }

    int audioInputTokens() {
        return directives.parts().audioInputTokens();
    }

    int audioOutputTokens() {
        return directives.parts().audioOutputTokens();
    }

    int webSearches() {
        return directives.parts().webSearches();
    }

    /** Anthropic's input_tokens exclude cache reads and writes. */
    int anthropicInputTokens() {
        return Math.max(0, promptTokens - directives.cachedTokens() - cacheWriteTokens());
    }
}
