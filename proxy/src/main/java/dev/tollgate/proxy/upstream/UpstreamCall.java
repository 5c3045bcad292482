package dev.tollgate.proxy.upstream;

import dev.tollgate.config.ProviderConfig;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.handler.codec.http.DefaultFullHttpRequest;
import io.netty.handler.codec.http.EmptyHttpHeaders;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import java.nio.channels.ClosedChannelException;

/**
 * One exchange's request to its provider: the bytes to send (built once by {@link UpstreamRequests}),
 * the connection carrying them, and whether a lost connection may be retried. A request is sent again
 * only when its pooled connection was found closed before any byte of it was written: once bytes left,
 * the provider may have read the request and billed it, and a second send would bill it twice.
 */
public final class UpstreamCall {
    private final ProviderConfig provider;
    private final String uri;
    private final HttpHeaders headers;
    private ByteBuf body;
    private Channel channel;
    private boolean reused;
    private int attempts;
    /** The write of the request failed before anything reached the socket (the connection was already closed). */
    private boolean failedBeforeWriting;
    private boolean keepAlive;

    UpstreamCall(ProviderConfig provider, String uri, HttpHeaders headers, ByteBuf body) {
        this.provider = provider;
        this.uri = uri;
        this.headers = headers;
        this.body = body;
    }

    public ProviderConfig provider() {
        return provider;
    }

    public String uri() {
        return uri;
    }

    public HttpHeaders headers() {
        return headers;
    }

    /** The body to send, borrowed: valid until the exchange completes. */
    public ByteBuf body() {
        return body;
    }

    public int bodyBytes() {
        return body == null ? 0 : body.readableBytes();
    }

    public Channel channel() {
        return channel;
    }

    public int attempts() {
        return attempts;
    }

    /** The connection has this exchange's request now. */
    void attach(Channel channel, boolean reused) {
        this.channel = channel;
        this.reused = reused;
        this.failedBeforeWriting = false;
        attempts++;
    }

    /** The request as Netty writes it: a fresh view of the body, so a resend has it whole. */
    FullHttpRequest newRequest() {
        return new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.POST, uri, body.retainedDuplicate(), headers,
                EmptyHttpHeaders.INSTANCE);
    }

    /** The request's write failed: with a closed-channel failure Netty refused it before it reached the socket. */
    void writeFailed(Throwable cause) {
        failedBeforeWriting = cause instanceof ClosedChannelException;
    }

    /** Whether, after {@code closed} went away without a response head, the request may go once more on a fresh connection. */
    public boolean mayResendAfterLosing(Channel closed) {
        return closed == channel && reused && attempts == 1 && failedBeforeWriting;
    }

    public void responseHead(io.netty.handler.codec.http.HttpResponse head) {
        keepAlive = HttpUtil.isKeepAlive(head);
    }

    /** True when the connection finished its response cleanly and may carry another request. */
    public boolean reusable() {
        return keepAlive && channel != null && channel.isActive();
    }

    /** Lets go of the connection (the caller pools or closes it); returns it, or null if none. */
    public Channel detach() {
        Channel detached = channel;
        channel = null;
        if (detached != null) {
            UpstreamHandler.detach(detached);
        }
        return detached;
    }

    /** Frees the body once nothing can be resent. */
    public void dispose() {
        if (body != null) {
            body.release();
            body = null;
        }
    }
}
