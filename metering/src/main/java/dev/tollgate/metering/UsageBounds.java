package dev.tollgate.metering;

/**
 * The most a request can have used, known before it was sent: a prompt of at most {@code promptTokens}
 * (the admission's bound from the body's bytes and the context window) and at most {@code outputTokens}
 * generated (the output cap sent to the provider, times the choices asked for).
 *
 * <p>A provider's usage report is untrusted input: a report beyond these bounds describes work that
 * could not have happened, so the request is billed at the bound and the difference is reported as
 * drift instead of debiting the account for it.
 */
public record UsageBounds(long promptTokens, long outputTokens, java.util.Map<String, Long> serverToolCalls, boolean oneHourCacheWrites) {
    public UsageBounds {
        if (promptTokens < 0 || outputTokens < 0) {
            throw new IllegalArgumentException("negative bound");
        }
        serverToolCalls = java.util.Map.copyOf(serverToolCalls);
    }

    /** Bounds of a request whose row charges for no server tool, so no tool's calls are bounded. */
    public UsageBounds(long promptTokens, long outputTokens) {
        this(promptTokens, outputTokens, java.util.Map.of(), true);
    }

    /** These bounds with {@code calls} as the most calls of each server tool the row charges for (0 for one the request did not declare). */
    public UsageBounds withServerToolCalls(java.util.Map<String, Long> calls) {
        return new UsageBounds(promptTokens, outputTokens, calls, oneHourCacheWrites);
    }

    /** These bounds for a request that asked for no one-hour cache: one-hour writes reported are billed as five-minute ones. */
    public UsageBounds withoutOneHourCacheWrites() {
        return new UsageBounds(promptTokens, outputTokens, serverToolCalls, false);
    }

    /** The bounds of a request whose prompt is bounded by {@code promptBoundTokens} and whose {@code choices} each stop at {@code outputCapPerChoice}. */
    public static UsageBounds of(long promptBoundTokens, long outputCapPerChoice, int choices) {
        long output = Math.max(0, outputCapPerChoice);
        long total;
        try {
            total = Math.multiplyExact(output, Math.max(1, choices));
        } catch (ArithmeticException e) {
            total = Long.MAX_VALUE;
        }
        return new UsageBounds(Math.max(0, promptBoundTokens), total);
    }

    /**
     * The usage to bill for {@code reported}: itself when it is within bounds, otherwise cut to them. The prompt
     * is cut kind by kind, cheapest reading first (cache reads, then cache writes, then plain input), so an
     * out-of-bounds report never costs the account more than the bound at the dearest input price it was
     * reserved for; reasoning tokens, a part of the output, are cut with it.
     */
    public Bounded apply(Usage reported) {
        boolean promptWithin = saturatingAdd(saturatingAdd(reported.inputTokens(), reported.cacheReadTokens()), reported.cacheWriteTokens()) <= promptTokens;
        boolean outputWithin = reported.outputTokens() <= outputTokens;
        java.util.Map<String, Long> calls = boundedCalls(reported.serverToolCalls());
        if (!oneHourCacheWrites && reported.cacheWrite1hTokens() > 0) {
            reported = reported.withParts(0, reported.audioInputTokens(), reported.imageInputTokens(), reported.audioOutputTokens(),
                    reported.imageOutputTokens());
            calls = calls == null ? reported.serverToolCalls() : calls;
        }
        if (promptWithin && outputWithin) {
            return calls == null ? new Bounded(reported, false) : new Bounded(reported.withServerToolCalls(calls), true);
        }
        long left = promptTokens;
        long cacheRead = Math.min(reported.cacheReadTokens(), left);
        left -= cacheRead;
        long cacheWrite = Math.min(reported.cacheWriteTokens(), left);
        left -= cacheWrite;
        long input = Math.min(reported.inputTokens(), left);
        long output = Math.min(reported.outputTokens(), outputTokens);
        long reasoning = Math.min(reported.reasoningTokens(), output);
        // The parts are cut with their kinds: the same counts where they still fit, else the whole of the kind that is left.
        Usage cut = new Usage(input, cacheRead, cacheWrite, output, reasoning).withParts(reported.cacheWrite1hTokens(), reported.audioInputTokens(),
                reported.imageInputTokens(), reported.audioOutputTokens(), reported.imageOutputTokens());
        return new Bounded(cut.withServerToolCalls(calls == null ? reported.serverToolCalls() : calls).withUnits(reported.units()), true);
    }

    /**
     * The calls to bill when some bounded tool was reported beyond its bound (each cut to it; a tool bounded at 0,
     * one the request never declared, left out), or null when every reported count is within its bound. A tool
     * without a bound costs nothing, so it is kept as reported.
     */
    private java.util.Map<String, Long> boundedCalls(java.util.Map<String, Long> reported) {
        if (serverToolCalls.isEmpty() || reported.isEmpty()) {
            return null;
        }
        java.util.Map<String, Long> billed = null;
        for (java.util.Map.Entry<String, Long> calls : reported.entrySet()) {
            Long bound = serverToolCalls.get(calls.getKey());
            if (bound != null && calls.getValue() > bound) {
                if (billed == null) {
                    billed = new java.util.HashMap<>(reported);
                }
                if (bound == 0) {
                    billed.remove(calls.getKey());
                } else {
                    billed.put(calls.getKey(), bound);
                }
            }
        }
        return billed;
    }

    /**
     * @param billed   the usage to bill, within the bounds
     * @param drifted  true when the report was beyond the bounds and {@code billed} is less than it
     */
    public record Bounded(Usage billed, boolean drifted) {
    }

    private static long saturatingAdd(long a, long b) {
        long sum = a + b;
        return sum < 0 ? Long.MAX_VALUE : sum; // both are non-negative, so only overflow makes it negative
    }
}
