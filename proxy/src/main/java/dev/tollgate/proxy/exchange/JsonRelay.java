package dev.tollgate.proxy.exchange;

import dev.tollgate.metering.Usage;
import dev.tollgate.metering.stream.JsonUsageScanner;
import dev.tollgate.metering.stream.UsageFields;
import io.netty.buffer.ByteBuf;

/**
 * A non-streamed JSON response: a non-blocking parser picks the usage out of the bytes as they arrive,
 * so the body is never parsed whole. The client gets it once its debit is journaled (see
 * {@link ClientSide}: a body up to its hold limit waits whole, so a debit that cannot be recorded is
 * answered with a 503 instead of the answer).
 */
final class JsonRelay implements ResponseRelay {
    /**
     * Where a direct buffer's bytes are copied for the scanner, one per event loop: the scanner is
     * done with them when {@code feed} returns, and a fresh 8 KB array per response was a third of
     * all the bytes the JSON path allocated.
     */
    private static final ThreadLocal<byte[]> SCRATCH = ThreadLocal.withInitial(() -> new byte[8192]);

    private final Exchange exchange;
    private final JsonUsageScanner scanner;
    private ByteBuf heldBack;

    JsonRelay(Exchange exchange) {
        this.exchange = exchange;
        this.scanner = new JsonUsageScanner(exchange.counter());
    }

    @Override
    public void onContent(ByteBuf content, boolean last) {
        int length = content.readableBytes();
        if (length == 0) {
            return;
        }
        if (content.hasArray()) {
            scanner.feed(content.array(), content.arrayOffset() + content.readerIndex(), length);
        } else {
            byte[] scratch = SCRATCH.get();
            if (scratch.length < length) {
                scratch = new byte[length];
                if (length <= 65_536) {
                    SCRATCH.set(scratch); // a rare huge piece is not kept for the thread's lifetime
                }
            }
            content.getBytes(content.readerIndex(), scratch, 0, length);
            scanner.feed(scratch, 0, length);
        }
        if (last) {
            heldBack = content.retain(); // the body's last bytes wait for its debit (see onEnd)
            return;
        }
        exchange.client().writeContent(content.retain());
        exchange.client().flushAtReadEnd();
    }

    /** The body is whole: settle, and only once the debit is in the journal send it. */
    @Override
    public void onEnd() {
        scanner.end();
        UsageFields fields = scanner.usage();
        boolean reported = fields.complete(exchange.endpoint().family());
        ByteBuf last = heldBack;
        heldBack = null;
        if (!reported && scanner.errorBody()) {
            // A provider's error object (even under a 200) with no usage: no answer was produced, so nothing is billed.
            exchange.finish(null, false, "upstream_error_body", last, true);
            return;
        }
        Usage usage = reported
                ? fields.toUsage(exchange.endpoint().family(), 0, 0)
                : fields.toUsage(exchange.endpoint().family(), exchange.billing().estimatedPromptTokens(), scanner.outputTokensCounted());
        exchange.finish(usage, reported, "completed", last, true);
    }

    @Override
    public String servedServiceTier() {
        return scanner.usage().serviceTier();
    }

    @Override
    public long outputTokensCounted() {
        return scanner.outputTokensCounted();
    }

    @Override
    public boolean streaming() {
        return false;
    }

    @Override
    public boolean holdsResponseForDebit() {
        return true;
    }

    /** The client cannot use half a JSON body: a failed request costs nothing. */
    @Override
    public Usage usageOnFailure() {
        return null;
    }

    @Override
    public Usage usageOnClientGone() {
        return null;
    }

    /**
     * A JSON body is generated whole before it is sent, so cancelling saves the provider nothing and
     * would lose the usage at its end: keep reading to the end and settle exactly, sending nothing more.
     */
    @Override
    public boolean readsOnWhenClientGone() {
        return true;
    }

    @Override
    public void dispose() {
        if (heldBack != null) {
            heldBack.release();
            heldBack = null;
        }
    }
}
