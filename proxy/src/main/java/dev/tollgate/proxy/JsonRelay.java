package dev.tollgate.proxy;

import dev.tollgate.metering.Usage;
import dev.tollgate.metering.stream.JsonUsageScanner;
import dev.tollgate.metering.stream.UsageFields;
import io.netty.buffer.ByteBuf;

/**
 * A non-streamed JSON response: each piece goes to the client as it arrives, and a non-blocking
 * parser picks the usage out of the same bytes on the way, so the body is never held whole.
 */
final class JsonRelay implements ResponseRelay {
    private final Exchange exchange;
    private final JsonUsageScanner scanner;
    private byte[] scratch = new byte[8192];

    JsonRelay(Exchange exchange) {
        this.exchange = exchange;
        this.scanner = new JsonUsageScanner(exchange.counter);
    }

    @Override
    public void onContent(ByteBuf content) {
        int length = content.readableBytes();
        if (length == 0) {
            return;
        }
        if (content.hasArray()) {
            scanner.feed(content.array(), content.arrayOffset() + content.readerIndex(), length);
        } else {
            if (scratch.length < length) {
                scratch = new byte[Math.max(length, scratch.length * 2)];
            }
            content.getBytes(content.readerIndex(), scratch, 0, length);
            scanner.feed(scratch, 0, length);
        }
        exchange.writeContent(content.retain());
        exchange.flush();
    }

    @Override
    public void onEnd() {
        scanner.end();
        settle("completed");
        exchange.writeEnd(null);
        exchange.complete(true);
    }

    private void settle(String reason) {
        UsageFields fields = scanner.usage();
        boolean reported = fields.complete(exchange.endpoint.family());
        Usage usage = reported
                ? fields.toUsage(exchange.endpoint.family(), 0, 0)
                : fields.toUsage(exchange.endpoint.family(), exchange.estimatedPromptTokens(), scanner.outputTokensCounted());
        exchange.settle(usage, reported, reason);
    }

    @Override
    public boolean streaming() {
        return false;
    }

    @Override
    public void upstreamFailed(String reason) {
        // The client cannot use half a JSON body: a failed request costs nothing.
        exchange.release(reason);
    }

    /**
     * A JSON body is generated whole before it is sent, so cancelling saves the provider nothing and
     * would lose the usage at its end: keep reading to the end and settle exactly, sending nothing more.
     */
    @Override
    public boolean clientGone() {
        return true;
    }

    @Override
    public void dispose() {
        scratch = null;
    }
}
