package dev.tollgate.metering.request;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tollgate.config.EndpointFamily;
import dev.tollgate.config.Limits;
import dev.tollgate.config.ModelRow;
import dev.tollgate.metering.CostRule;

/**
 * Decides what a request may cost before it is forwarded, reserves it, and rewrites the request so
 * the provider itself stops within what was reserved.
 *
 * <p>The worst case is the prompt's upper bound at the dearest input price (plain, cache read or
 * cache write), plus the output cap at the output price, each the dearest of the row's prices and of every long-prompt
 * tier a prompt within the bound can reach (so the reservation bounds the debit whichever tier bills it), all at the
 * {@linkplain #servicePercent service tier percentage} the request can be served at and its lane's price multiplier
 * (so a lane above the list price reserves more, one below it less, and the reservation still bounds the debit). The prompt bound is
 * {@code min(contextWindow, bodyBytes + imageParts * promptTokensPerImage + PROMPT_OVERHEAD_TOKENS)}:
 * every token of a byte-level BPE encoding is at least one byte of the body, and no prompt exceeds the
 * model's context window (which is also the bound when the prompt includes context stored upstream). For
 * embeddings the window limits each input of a batch, not the request, so only the bytes bound the prompt.
 *
 * <p>If the balance covers the whole worst case, it is reserved and the request goes as sent. If it
 * covers only the prompt bound plus {@code limits.minOutputTokens}, all that is available is reserved
 * and the request's output cap is lowered to what the rest affords. Otherwise the request is refused.
 */
public final class Admission {
    /** Tokens the provider adds around the messages (role markers, priming), above the body's own bytes. */
    public static final long PROMPT_OVERHEAD_TOKENS = 64;

    private final Limits limits;

    public Admission(Limits limits) {
        this.limits = limits;
    }

    /**
     * The money bounds of one request, before any reservation; {@code outputMicrosPerMillionTokens} is the output price
     * they assume (the dearest the prompt bound can reach) and {@code servicePercent} the service tier's percentage (the
     * dearest the request can be served at). {@code feesWorstMicros} is the most its fees can be (the row's per-request
     * fee and each server tool it declares, at most {@code serverToolCallBounds} calls of each), counted in the worst case
     * and the minimum beside the prompt's. {@code oneHourCacheWrites} is false when the row prices one-hour cache writes
     * apart and the request asks for none, so the prompt's worst case leaves that price out (and a report of such
     * writes is billed as five-minute ones, recorded as drift). {@code priceMultiplierBps} is the lane's multiplier every
     * token amount of the plan is priced at, as the settlement will price it.
     */
    public record Plan(long promptBoundTokens, long promptWorstMicros, long outputCapTokens, int choices,
                       long worstCaseMicros, long minimumMicros, long outputMicrosPerMillionTokens, int servicePercent,
                       long feesWorstMicros, java.util.Map<String, Long> serverToolCallBounds, boolean oneHourCacheWrites, int priceMultiplierBps) {
        public Plan {
            serverToolCallBounds = java.util.Map.copyOf(serverToolCallBounds);
        }

        /** A plan at the list price. */
        public Plan(long promptBoundTokens, long promptWorstMicros, long outputCapTokens, int choices,
                    long worstCaseMicros, long minimumMicros, long outputMicrosPerMillionTokens, int servicePercent,
                    long feesWorstMicros, java.util.Map<String, Long> serverToolCallBounds, boolean oneHourCacheWrites) {
            this(promptBoundTokens, promptWorstMicros, outputCapTokens, choices, worstCaseMicros, minimumMicros, outputMicrosPerMillionTokens, servicePercent,
                    feesWorstMicros, serverToolCallBounds, oneHourCacheWrites, CostRule.LIST_PRICE_BPS);
        }

        /** A plan without fees, for a request that may write any cache. */
        public Plan(long promptBoundTokens, long promptWorstMicros, long outputCapTokens, int choices,
                    long worstCaseMicros, long minimumMicros, long outputMicrosPerMillionTokens, int servicePercent) {
            this(promptBoundTokens, promptWorstMicros, outputCapTokens, choices, worstCaseMicros, minimumMicros, outputMicrosPerMillionTokens, servicePercent,
                    0, java.util.Map.of(), true);
        }

        /** A plan at the row's own prices, as before service tiers. */
        public Plan(long promptBoundTokens, long promptWorstMicros, long outputCapTokens, int choices,
                    long worstCaseMicros, long minimumMicros, long outputMicrosPerMillionTokens) {
            this(promptBoundTokens, promptWorstMicros, outputCapTokens, choices, worstCaseMicros, minimumMicros, outputMicrosPerMillionTokens, 100);
        }
    }

    /**
     * True unless the row prices one-hour cache writes apart and {@code request} marks no block for a one-hour cache
     * ({@code "cache_control": {"type": "ephemeral", "ttl": "1h"}} on a system block, a tool, a message's content block, or
     * the request itself): Anthropic writes a one-hour cache only where asked.
     */
    public static boolean oneHourCacheWrites(InspectedRequest request, ModelRow row) {
        if (!row.tokenClassPrices().containsKey(dev.tollgate.config.TokenClass.CACHE_WRITE_1H)) {
            return true;
        }
        com.fasterxml.jackson.databind.node.ObjectNode body = request.body();
        if (asksOneHour(body) || anyAsksOneHour(body.get("system")) || anyAsksOneHour(body.get("tools"))) {
            return true;
        }
        com.fasterxml.jackson.databind.JsonNode messages = body.get("messages");
        if (messages != null && messages.isArray()) {
            for (com.fasterxml.jackson.databind.JsonNode message : messages) {
                if (asksOneHour(message) || anyAsksOneHour(message.get("content"))) {
                    return true;
                }
            }
        }
        return false;
    }

    private static boolean anyAsksOneHour(com.fasterxml.jackson.databind.JsonNode blocks) {
        if (blocks != null && blocks.isArray()) {
            for (com.fasterxml.jackson.databind.JsonNode block : blocks) {
                if (asksOneHour(block)) {
                    return true;
                }
            }
        }
        return false;
    }

    private static boolean asksOneHour(com.fasterxml.jackson.databind.JsonNode block) {
        com.fasterxml.jackson.databind.JsonNode ttl = block.path("cache_control").path("ttl");
        return ttl.isTextual() && ttl.textValue().equals("1h");
    }

    /**
     * The most calls of each server tool the row charges for that {@code request} can make: the tool's {@code max_uses}
     * where the request declares the tool with one, the catalog's {@code maxCallsPerRequest} where it declares it
     * without, and 0 where it does not declare it (a provider runs no server tool it was not given). A tool is declared
     * by an entry of {@code tools} whose {@code type} is its name or its name and a version ({@code web_search_20250305},
     * {@code web_search_preview}).
     */
    public static java.util.Map<String, Long> serverToolCallBounds(InspectedRequest request, ModelRow row) {
        if (row.serverToolFees().isEmpty()) {
            return java.util.Map.of();
        }
        java.util.Map<String, Long> bounds = new java.util.HashMap<>();
        com.fasterxml.jackson.databind.JsonNode tools = request.body().get("tools");
        for (java.util.Map.Entry<String, dev.tollgate.config.ServerToolFee> fee : row.serverToolFees().entrySet()) {
            long bound = 0;
            if (tools != null && tools.isArray()) {
                for (com.fasterxml.jackson.databind.JsonNode tool : tools) {
                    com.fasterxml.jackson.databind.JsonNode type = tool.get("type");
                    if (type != null && type.isTextual() && (type.textValue().equals(fee.getKey()) || type.textValue().startsWith(fee.getKey() + "_"))) {
                        com.fasterxml.jackson.databind.JsonNode maxUses = tool.get("max_uses");
                        long declared = maxUses != null && maxUses.canConvertToLong() && maxUses.isIntegralNumber() && maxUses.longValue() > 0
                                ? Math.min(maxUses.longValue(), dev.tollgate.config.ServerToolFee.MAX_CALLS_PER_REQUEST)
                                : fee.getValue().maxCallsPerRequest();
                        bound = Math.min(dev.tollgate.config.ServerToolFee.MAX_CALLS_PER_REQUEST, bound + declared); // a tool declared twice may run both
                    }
                }
            }
            bounds.put(fee.getKey(), bound);
        }
        return bounds;
    }

    /**
     * The dearest service tier percentage {@code request} can be billed at: the tier it asks for by name (OpenAI's
     * {@code "service_tier": "flex"}; Anthropic's {@code "standard_only"} is its {@code standard}) but never below 100,
     * since a provider may serve a cheaper tier's request at its default one; else, when it asks for none or lets the
     * provider choose ({@code auto}), the highest of 100 and every tier of the row.
     */
    public static int servicePercent(InspectedRequest request, ModelRow row) {
        if (row.serviceTiers().isEmpty()) {
            return 100;
        }
        com.fasterxml.jackson.databind.JsonNode asked = request.body().get("service_tier");
        if (asked == null || !asked.isTextual() || asked.textValue().equals("auto")) {
            return row.maxServicePercent();
        }
        String tier = asked.textValue();
        return Math.max(100, row.servicePercent(request.family() == EndpointFamily.MESSAGES && tier.equals("standard_only") ? "standard" : tier));
    }

    public Plan plan(InspectedRequest request, ModelRow row) {
        return plan(request, row, CostRule.LIST_PRICE_BPS);
    }

    /** The plan of {@code request} in a lane whose tokens cost {@code multiplierBps} basis points of the listed price. */
    public Plan plan(InspectedRequest request, ModelRow row, int multiplierBps) {
        long bytesBound = request.bodyBytes() + (long) request.imageParts() * limits.promptTokensPerImage() + PROMPT_OVERHEAD_TOKENS;
        // An embeddings request batches many inputs and the window bounds each input, not the batch,
        // so only the bytes bound the whole prompt there.
        long promptBound = request.storedContext()
                ? row.contextWindowTokens()
                : request.family() == EndpointFamily.EMBEDDINGS ? bytesBound : Math.min(row.contextWindowTokens(), bytesBound);
        int percent = servicePercent(request, row);
        boolean oneHourCacheWrites = oneHourCacheWrites(request, row);
        long promptWorst = CostRule.costMicros(promptBound, row.maxInputMicrosPerMillionTokens(promptBound, oneHourCacheWrites), percent, multiplierBps);
        long outputPrice = row.maxOutputMicrosPerMillionTokens(promptBound);
        java.util.Map<String, Long> callBounds = serverToolCallBounds(request, row);
        long fees = CostRule.feesMicros(row, dev.tollgate.metering.Usage.ZERO.withServerToolCalls(positive(callBounds)));
        if (request.family() == EndpointFamily.EMBEDDINGS) {
            return new Plan(promptBound, promptWorst, 0, 1, promptWorst + fees, promptWorst + fees, outputPrice, percent, fees, callBounds,
                    oneHourCacheWrites, multiplierBps);
        }
        long outputCap = request.requestedOutputTokens() > 0
                ? Math.min(request.requestedOutputTokens(), row.maxOutputTokens())
                : row.maxOutputTokens();
        int choices = request.choices();
        long worst = promptWorst + fees + CostRule.costMicros(outputCap * choices, outputPrice, percent, multiplierBps);
        long minimumOutput = Math.min(outputCap, limits.minOutputTokens());
        long minimum = promptWorst + fees + CostRule.costMicros(minimumOutput * choices, outputPrice, percent, multiplierBps);
        return new Plan(promptBound, promptWorst, outputCap, choices, worst, minimum, outputPrice, percent, fees, callBounds, oneHourCacheWrites,
                multiplierBps);
    }

    private static java.util.Map<String, Long> positive(java.util.Map<String, Long> bounds) {
        java.util.Map<String, Long> positive = new java.util.HashMap<>(bounds);
        positive.values().removeIf(bound -> bound == 0);
        return positive;
    }

    /** Output tokens per choice that {@code heldMicros} pays for once the prompt bound and the fees are paid, capped by the plan. */
    public static long affordableOutputTokens(Plan plan, ModelRow row, long heldMicros) {
        long total = CostRule.tokensAffordable(heldMicros - plan.promptWorstMicros() - plan.feesWorstMicros(), plan.outputMicrosPerMillionTokens(),
                plan.servicePercent(), plan.priceMultiplierBps());
        return Math.min(plan.outputCapTokens(), total / plan.choices());
    }

    /**
     * The body to send upstream: the client's own bytes when nothing needs to change, otherwise the
     * tree re-serialized with the output cap set to {@code outputTokensToSend} where that is below what
     * the provider would otherwise allow (so the reservation always covers the cap that is sent) and,
     * for OpenAI streams, {@code stream_options.include_usage} switched on so the provider reports
     * usage at the end of the stream.
     *
     * @return the bytes to forward, or null to forward the client's bytes unchanged
     */
    public static byte[] rewrite(InspectedRequest request, Plan plan, long outputTokensToSend) {
        return rewrite(request, plan, outputTokensToSend, null);
    }

    /**
     * As {@link #rewrite(InspectedRequest, Plan, long)}, with the model named {@code upstreamModel} where a route serves the
     * requested model under another name (null: unchanged). {@code plan} is null for a free endpoint (no output cap).
     */
    public static byte[] rewrite(InspectedRequest request, Plan plan, long outputTokensToSend, String upstreamModel) {
        boolean changed = false;
        ObjectNode body = request.body();
        if (upstreamModel != null) {
            body.put("model", upstreamModel);
            changed = true;
        }
        long capWithoutRewrite = request.requestedOutputTokens() > 0 ? request.requestedOutputTokens() : plan == null ? 0 : plan.outputCapTokens();
        if (request.outputTokensField() != null && outputTokensToSend > 0 && outputTokensToSend < capWithoutRewrite) {
            body.put(request.outputTokensField(), outputTokensToSend);
            changed = true;
        }
        if (needsUsageOption(request)) {
            ObjectNode options = body.has("stream_options") && body.get("stream_options").isObject()
                    ? (ObjectNode) body.get("stream_options")
                    : body.putObject("stream_options");
            options.put("include_usage", true);
            changed = true;
        }
        if (!changed) {
            return null;
        }
        try {
            return RequestInspector.JSON.writeValueAsBytes(body);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("re-serializing a parsed request cannot fail", e);
        }
    }

    /** OpenAI chat and completions streams report usage only when asked to. */
    public static boolean needsUsageOption(InspectedRequest request) {
        return request.stream() && !request.clientAskedForUsage()
                && (request.family() == EndpointFamily.CHAT_COMPLETIONS || request.family() == EndpointFamily.COMPLETIONS);
    }
}
