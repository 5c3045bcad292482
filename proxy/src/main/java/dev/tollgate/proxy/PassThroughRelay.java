package dev.tollgate.proxy;

import io.netty.buffer.ByteBuf;

/**
 * Relays a body unmetered: the provider's error responses (their reservation is already released,
 * since a failed request costs nothing) and the free endpoints such as count_tokens.
 */
final class PassThroughRelay implements ResponseRelay {
    private final Exchange exchange;
    private final boolean streaming;

    PassThroughRelay(Exchange exchange, boolean streaming) {
        this.exchange = exchange;
        this.streaming = streaming;
    }

    @Override
    public void onContent(ByteBuf content, boolean last) {
        if (content.isReadable()) {
            exchange.writeContent(content.retain());
            exchange.flushAtReadEnd();
        }
    }

    @Override
    public void onEnd() {
        exchange.writeEnd(null);
        exchange.complete(true);
    }

    @Override
    public boolean streaming() {
        return streaming;
    }

    @Override
    public void upstreamFailed(String reason) {
        exchange.release(reason);
    }

    @Override
    public boolean clientGone() {
        exchange.release("client_disconnected");
        return false;
    }

    @Override
    public void dispose() {
    }
}
