package dev.tollgate.proxy.exchange;

import dev.tollgate.metering.Usage;
import io.netty.buffer.ByteBuf;

/**
 * Relays a body unmetered: the provider's error responses (their reservation is already released,
 * since a failed request costs nothing) and the free endpoints such as count_tokens.
 */
final class PassThroughRelay implements ResponseRelay {
    private final Exchange exchange;

    PassThroughRelay(Exchange exchange) {
        this.exchange = exchange;
    }

    @Override
    public void onContent(ByteBuf content, boolean last) {
        if (content.isReadable()) {
            exchange.client().writeContent(content.retain());
            exchange.client().flushAtReadEnd();
        }
    }

    @Override
    public void onEnd() {
        exchange.finishUnbilled();
    }

    @Override
    public boolean streaming() {
        return false;
    }

    @Override
    public Usage usageOnFailure() {
        return null;
    }

    @Override
    public Usage usageOnClientGone() {
        return null;
    }

    @Override
    public void dispose() {
    }
}
