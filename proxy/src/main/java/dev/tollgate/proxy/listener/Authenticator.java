package dev.tollgate.proxy.listener;

import dev.tollgate.proxy.ErrorShapes;
import dev.tollgate.proxy.Gateway;
import dev.tollgate.proxy.exchange.Exchange;

import dev.tollgate.config.Protocol;
import dev.tollgate.metering.ApiKeys;
import dev.tollgate.metering.request.Rejection;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;
import java.net.InetSocketAddress;

/**
 * Finds the Tollgate key of a request: {@code Authorization: Bearer KEY} (OpenAI SDKs) or
 * {@code x-api-key: KEY} (Anthropic SDKs). The key is only ever hashed and looked up; error messages
 * show at most its first characters, as the providers do.
 */
public final class Authenticator extends ChannelInboundHandlerAdapter {
    private final Gateway gateway;

    public Authenticator(Gateway gateway) {
        this.gateway = gateway;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        Exchange exchange = (Exchange) msg;
        String presented = presentedKey(exchange.request().headers());
        ApiKeys.ApiKey key = gateway.keys().lookup(presented);
        if (key == null) {
            refuse(ctx, exchange, Rejection.of(Rejection.Kind.INVALID_KEY, message(exchange.surface(), presented)));
            return;
        }
        String unusable = key.unusableAt(System.currentTimeMillis());
        if (unusable != null) {
            refuse(ctx, exchange, Rejection.of(Rejection.Kind.INVALID_KEY, unusable.equals("rotated")
                    ? "This key was replaced by a new one and its grace period ended at "
                            + java.time.Instant.ofEpochMilli(key.secretValidUntilMs()) + ". Use the new key."
                    : "This key expired at " + java.time.Instant.ofEpochMilli(key.scope().expiresAtMs()) + ". Ask for a new key."));
            return;
        }
        if (!key.scope().networks().isEmpty()
                && !key.scope().allowsAddress(exchange.channel().remoteAddress() instanceof InetSocketAddress remote ? remote.getAddress() : null)) {
            refuse(ctx, exchange, Rejection.of(Rejection.Kind.NETWORK_NOT_ALLOWED,
                    "This key may not be used from your network address; it is limited to " + String.join(", ", key.scope().networks()) + "."));
            return;
        }
        exchange.authenticated(key);
        ctx.fireChannelRead(exchange); // forwarded
    }

    private void refuse(ChannelHandlerContext ctx, Exchange exchange, Rejection rejection) {
        gateway.metrics().refused(exchange.surface(), rejection.kind());
        exchange.respond(ErrorShapes.response(ctx.alloc(), exchange.surface(), rejection, exchange.requestId()));
    }

    static String presentedKey(HttpHeaders headers) {
        String apiKey = headers.get("x-api-key");
        if (apiKey != null && !apiKey.isBlank()) {
            return apiKey.strip();
        }
        String authorization = headers.get(HttpHeaderNames.AUTHORIZATION);
        if (authorization != null && authorization.regionMatches(true, 0, "Bearer ", 0, 7)) {
            return authorization.substring(7).strip();
        }
        return null;
    }

    private static String message(Protocol surface, String presented) {
        if (presented != null && ApiKeys.checksumFails(presented)) {
            // Told apart without a lookup: a revoked key has a valid checksum, a mistyped or cut one does not.
            return "This is not a valid Tollgate key: its checksum does not match, so it was mistyped or cut short.";
        }
        if (surface == Protocol.ANTHROPIC) {
            return presented == null ? "x-api-key header is required" : "invalid x-api-key";
        }
        return presented == null
                ? "You didn't provide an API key. Provide your Tollgate key in an Authorization header using Bearer auth (Authorization: Bearer YOUR_KEY)."
                : "Incorrect API key provided: " + ApiKeys.displayPrefix(presented) + "; use a key issued by this Tollgate.";
    }
}
