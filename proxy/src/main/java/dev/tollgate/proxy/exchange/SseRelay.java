package dev.tollgate.proxy.exchange;

import dev.tollgate.config.EndpointFamily;
import dev.tollgate.config.ModelRow;
import dev.tollgate.metering.CostRule;
import dev.tollgate.metering.Usage;
import dev.tollgate.metering.stream.SseEvent;
import dev.tollgate.metering.stream.SseFramer;
import dev.tollgate.metering.stream.StreamMeter;
import dev.tollgate.metering.stream.UsageFields;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;

/**
 * A streamed (SSE) response: split into events as the bytes arrive, each event metered and then
 * forwarded to the client at once as a slice of the received bytes (not re-encoded), so the client
 * sees every event as soon as the provider sends it.
 *
 * <p>After each event the running output count is checked against the reservation. When it would
 * outgrow it, the reservation is extended from the balance; when the balance cannot cover that, the
 * stream is cut: the event is not forwarded, the client gets the provider's own clean ending for a
 * stream that reached its output cap, the upstream request is cancelled, and what was generated is
 * billed. The overshoot beyond the reservation is therefore at most the tokens of that one event
 * (plus, for models without a public tokenizer, the error of the approximate encoding); it is taken
 * from the balance if it can be and written off otherwise, never leaving the balance negative.
 */
final class SseRelay implements ResponseRelay, SseFramer.Sink {
    /** The smallest extension worth asking for, in output tokens, so a long stream does not extend at every event. */
    static final long MIN_EXTENSION_TOKENS = 256;

    private final Exchange exchange;
    private final EndpointFamily family;
    private final ModelRow row;
    private final StreamMeter meter;
    private final SseEvent event = new SseEvent();
    private final int maxEventBytes;
    /** Bytes received but not yet framed into a complete event; a heap buffer so events parse in place. */
    private ByteBuf pending;
    private final SseFramer framer = new SseFramer();
    /** The forwarded events not yet written: {@code pending[runStart, runEnd)}. */
    private int runStart;
    private int runEnd;
    /** The terminal event ({@code [DONE]}, {@code message_stop}...), sent once the debit is journaled. */
    private ByteBuf heldBackTerminalEvent;
    private boolean cut;
    private long eventsForwarded;

    SseRelay(Exchange exchange) {
        this.exchange = exchange;
        this.family = exchange.endpoint().family();
        this.row = exchange.billing().row();
        this.meter = StreamMeter.forFamily(family, exchange.counter(), exchange.inspected().clientAskedForUsage());
        this.maxEventBytes = exchange.gateway().limits().maxSseEventBytes();
    }

    @Override
    public boolean streaming() {
        return true;
    }

    @Override
    public void onContent(ByteBuf content, boolean last) {
        if (cut || !content.isReadable()) {
            return;
        }
        if (pending == null) {
            pending = exchange.channel().alloc().heapBuffer(Math.max(content.readableBytes(), 1024));
        }
        pending.writeBytes(content);
        frameEvents(false);
        if (cut || exchange.state() != ExchangeState.RELAYING) {
            return;
        }
        writeRun();
        exchange.client().flushAtReadEnd();
        if (pending.readableBytes() > maxEventBytes) {
            exchange.upstreamFailed("upstream_event_too_large", false);
            return;
        }
        compactPending();
    }

    @Override
    public void onEnd() {
        if (!cut && pending != null) {
            frameEvents(true);
        }
        if (cut || exchange.state() != ExchangeState.RELAYING) {
            return;
        }
        writeRun();
        exchange.client().flushAtReadEnd();
        // The stream's terminal event and its end wait for the debit to be journaled, so a client
        // never holds a complete answer whose debit a crash could lose.
        ByteBuf terminal = heldBackTerminalEvent;
        heldBackTerminalEvent = null;
        if (providerErrorSeen()) {
            // The provider ended the stream with its own error event (the client has it): what was generated
            // before it is billed, and the outcome says the provider failed, not that the answer completed.
            exchange.finish(usageOnFailure(), meter.usageFinal() && meter.usage().complete(family), "upstream_error_event", terminal, false);
            return;
        }
        exchange.finish(billedUsage(), meter.usageFinal() && meter.usage().complete(family), "completed", terminal, true);
    }

    /** Hands each complete event in {@code pending} to {@link #event}; at the end of the body, the remainder too. */
    private void frameEvents(boolean endOfBody) {
        int base = pending.arrayOffset();
        int next = framer.frame(pending.array(), base + pending.readerIndex(), base + pending.writerIndex(), endOfBody, this);
        if (next >= 0) {
            pending.readerIndex(next - base); // when framing stopped (a cut), the exchange is complete and pending freed
        }
    }

    @Override
    public boolean event(byte[] bytes, int start, int end) {
        handleEvent(start - pending.arrayOffset(), end - pending.arrayOffset());
        return !cut;
    }

    private void handleEvent(int start, int end) {
        event.parse(pending.array(), pending.arrayOffset() + start, end - start);
        StreamMeter.Verdict verdict = meter.onEvent(event);
        if (!withinReservation()) {
            cutAtReservation();
            return;
        }
        if (heldBackTerminalEvent != null) {
            // An event after the terminal one (a provider that sends more): keep the order.
            writeRun();
            exchange.client().writeContent(heldBackTerminalEvent);
            heldBackTerminalEvent = null;
            eventsForwarded++;
        }
        if (verdict == StreamMeter.Verdict.FORWARD && meter.finished()) {
            writeRun();
            heldBackTerminalEvent = pending.retainedSlice(start, end - start);
        } else if (verdict == StreamMeter.Verdict.FORWARD) {
            eventsForwarded++;
            if (runEnd != start) {
                writeRun();
                runStart = start;
            }
            runEnd = end;
        } else {
            writeRun();
        }
    }

    /**
     * Writes the forwarded events not written yet as one piece of the response: the events of one
     * upstream chunk go to the client together, in one chunk instead of one chunk each, and the
     * chunks of one upstream read in one flush (see {@link Exchange#flushAtReadEnd}).
     */
    private void writeRun() {
        if (runEnd > runStart) {
            exchange.client().writeContent(pending.retainedSlice(runStart, runEnd - runStart));
        }
        runStart = 0;
        runEnd = 0;
    }

    @Override
    public String servedServiceTier() {
        return meter.usage().serviceTier();
    }

    /** True while the reservation covers the prompt and the output so far, extending it from the balance if needed. */
    private boolean withinReservation() {
        long outputPrice = outputPrice();
        int percent = servicePercent();
        int multiplierBps = exchange.plan().priceMultiplierBps();
        long outputMicros = CostRule.costMicros(meter.outputTokensCounted(), outputPrice, percent, multiplierBps);
        long needMicros = promptMicros(percent) + outputMicros - exchange.reservation().coverageMicros();
        if (needMicros <= 0) {
            return true;
        }
        long stepTokens = Math.max(exchange.plan().outputCapTokens() / 4, MIN_EXTENSION_TOKENS) * exchange.plan().choices();
        long stepMicros = CostRule.costMicros(stepTokens, outputPrice, percent, multiplierBps);
        return exchange.billing().extend(needMicros, needMicros + stepMicros);
    }

    /**
     * The service tier's percentage once the stream named the tier, the plan's (the dearest the request can be served
     * at) until then, so the check never counts the output cheaper than the settlement may bill it.
     */
    private int servicePercent() {
        String tier = meter.usage().serviceTier();
        return tier == null ? exchange.plan().servicePercent() : row.servicePercent(tier);
    }

    /** The output price of the prompt's tier once the provider reported the prompt, the plan's (the dearest it can reach) until then. */
    private long outputPrice() {
        UsageFields usage = meter.usage();
        if (row.tiers().isEmpty() || !usage.promptKnown(family)) {
            return row.tiers().isEmpty() ? row.maxOutputMicrosPerMillionTokens() : exchange.plan().outputMicrosPerMillionTokens();
        }
        return row.outputMicrosPerMillionTokens(CostRule.promptTokens(usage.toUsage(family, 0, 0)));
    }

    /** The prompt's cost once the provider reported it (Anthropic does so first), its worst case until then. */
    private long promptMicros(int percent) {
        UsageFields usage = meter.usage();
        if (usage.promptKnown(family)) {
            Usage prompt = usage.toUsage(family, 0, 0);
            Usage promptOnly = new Usage(prompt.inputTokens(), prompt.cacheReadTokens(), prompt.cacheWriteTokens(), 0, 0)
                    .withParts(prompt.cacheWrite1hTokens(), prompt.audioInputTokens(), prompt.imageInputTokens(), 0, 0);
            return CostRule.tokensMicros(row, promptOnly, percent, exchange.plan().priceMultiplierBps()) + exchange.plan().feesWorstMicros();
        }
        // The plan's worst case is at its percentage; a dearer tier than that (one the request did not ask for) is priced again.
        return exchange.plan().feesWorstMicros() + (percent <= exchange.plan().servicePercent() ? exchange.plan().promptWorstMicros()
                : CostRule.costMicros(exchange.plan().promptBoundTokens(), row.maxInputMicrosPerMillionTokens(exchange.plan().promptBoundTokens()), percent,
                        exchange.plan().priceMultiplierBps()));
    }

    private void cutAtReservation() {
        writeRun();
        cut = true;
        Usage billed = billedUsage();
        exchange.cancelUpstream(); // stop the generation now; the clean ending waits for the journal
        exchange.finish(billed, false, "cut_at_reservation", Unpooled.wrappedBuffer(meter.cutAtCapEvents(billed)), false);
    }

    /**
     * The provider's usage once it sent its final count; before that (a stream that ended early), what it
     * reported of the prompt, the inline count of the output as a floor, and a prompt estimate if needed.
     */
    private Usage billedUsage() {
        UsageFields usage = meter.usage();
        if (meter.usageFinal() && usage.complete(family)) {
            return usage.toUsage(family, 0, 0);
        }
        long promptEstimate = usage.promptKnown(family) ? 0 : exchange.billing().estimatedPromptTokens();
        return usage.toUsage(family, promptEstimate, meter.outputTokensCounted());
    }

    @Override
    public boolean providerErrorSeen() {
        return meter.providerError() != null;
    }

    @Override
    public long outputTokensCounted() {
        return meter.outputTokensCounted();
    }

    /** What was generated is billed; a stream that failed before any output costs nothing. */
    @Override
    public Usage usageOnFailure() {
        return meter.outputTokensCounted() > 0 || meter.usage().outputTokens(family) > 0 ? billedUsage() : null;
    }

    /**
     * The stream started, so the provider has read the prompt: the client pays for it and for the
     * output generated so far, and the upstream request is cancelled.
     */
    @Override
    public Usage usageOnClientGone() {
        return billedUsage();
    }

    @Override
    public long eventsForwarded() {
        return eventsForwarded;
    }

    /** Drops consumed bytes; a fresh buffer is started so slices already written to the client stay intact. */
    private void compactPending() {
        if (pending.readerIndex() == 0) {
            return;
        }
        ByteBuf rest = null;
        if (pending.isReadable()) {
            rest = exchange.channel().alloc().heapBuffer(Math.max(pending.readableBytes() * 2, 1024));
            rest.writeBytes(pending);
        }
        pending.release();
        pending = rest;
    }

    @Override
    public void dispose() {
        if (heldBackTerminalEvent != null) {
            heldBackTerminalEvent.release();
            heldBackTerminalEvent = null;
        }
        if (pending != null) {
            pending.release();
            pending = null;
        }
    }
}
