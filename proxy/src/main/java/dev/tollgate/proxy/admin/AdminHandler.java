package dev.tollgate.proxy.admin;

import dev.tollgate.proxy.Gateway;
import dev.tollgate.proxy.Health;
import dev.tollgate.proxy.metrics.NodeMetrics;
import io.netty.buffer.ByteBufOutputStream;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.QueryStringDecoder;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One admin connection: probes and {@code /metrics} first, then the bearer token, then {@link AdminApi}.
 * A key-holder's Tollgate key is just an unknown token here. Logs the label of the token and the route
 * of each mutation, never a token, a key or a body.
 */
final class AdminHandler extends SimpleChannelInboundHandler<FullHttpRequest> {
    private static final Logger LOG = LoggerFactory.getLogger(AdminHandler.class);

    private final Gateway gateway;
    private final AdminApi api;
    private final AdminTokens tokens;

    AdminHandler(Gateway gateway, AdminApi api, AdminTokens tokens) {
        this.gateway = gateway;
        this.api = api;
        this.tokens = tokens;
    }

    @Override
    protected void channelRead0(ChannelHandlerContext ctx, FullHttpRequest request) {
        FullHttpResponse response;
        if (request.decoderResult().isFailure()) {
            response = error(HttpResponseStatus.BAD_REQUEST, "invalid_request_error", "The request is not valid HTTP.");
            HttpUtil.setKeepAlive(response, false);
            ctx.writeAndFlush(response).addListener(ChannelFutureListener.CLOSE);
            return;
        }
        try {
            response = answer(request);
        } catch (RuntimeException e) {
            LOG.error("admin {} {} failed", request.method(), new QueryStringDecoder(request.uri()).rawPath(), e);
            response = error(HttpResponseStatus.INTERNAL_SERVER_ERROR, "api_error", "Internal error; see the node's log.");
        } catch (InternalError e) {
            // Chronicle reports a journal it cannot write (a full disk) as an InternalError; the change was not applied.
            LOG.error("admin {} {}: the journal could not record it", request.method(), new QueryStringDecoder(request.uri()).rawPath(), e);
            response = error(HttpResponseStatus.SERVICE_UNAVAILABLE, "api_error", "The journal cannot record changes now; nothing was changed.");
        }
        boolean keepAlive = HttpUtil.isKeepAlive(request);
        HttpUtil.setKeepAlive(response, keepAlive);
        var written = ctx.writeAndFlush(response);
        if (!keepAlive) {
            written.addListener(ChannelFutureListener.CLOSE);
        }
    }

    private FullHttpResponse answer(FullHttpRequest request) {
        QueryStringDecoder uri = new QueryStringDecoder(request.uri());
        String path = uri.rawPath();
        boolean get = request.method().equals(HttpMethod.GET);
        if (get && path.equals("/healthz")) {
            return Health.healthz();
        }
        if (get && path.equals("/readyz")) {
            return Health.readyz(gateway);
        }
        boolean metrics = get && path.equals("/metrics");
        if (!metrics && !path.startsWith(AdminApi.PREFIX + "/")) {
            return error(HttpResponseStatus.NOT_FOUND, "not_found_error", "No admin route " + request.method() + " " + path);
        }
        AdminTokens.Token token = tokens.match(bearer(request.headers().get(HttpHeaderNames.AUTHORIZATION)));
        if (token == null && !(metrics && tokens.isEmpty())) {
            FullHttpResponse refused = error(HttpResponseStatus.UNAUTHORIZED, "authentication_error", tokens.isEmpty()
                    ? "No admin token is configured on this node: set " + AdminTokens.TOKENS_ENV + " or " + AdminTokens.TOKEN_ENV + " to use the admin API."
                    : request.headers().contains(HttpHeaderNames.AUTHORIZATION) ? "The admin token is not valid."
                    : "An admin token is required: Authorization: Bearer <token>.");
            refused.headers().set(HttpHeaderNames.WWW_AUTHENTICATE, "Bearer realm=\"tollgate-admin\"");
            return refused;
        }
        if (metrics) {
            return metricsPage();
        }
        byte[] body = new byte[request.content().readableBytes()];
        request.content().readBytes(body);
        AdminApi.Response answer = api.handle(new AdminApi.Request(request.method(), path, uri.parameters(),
                request.headers().get("Idempotency-Key"), request.headers().get(HttpHeaderNames.ACCEPT), body, token));
        if (!request.method().equals(HttpMethod.GET)) {
            LOG.info("admin {} {} by {}: {}", request.method(), path, token.label(), answer.status().code());
        }
        FullHttpResponse response = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, answer.status(), Unpooled.wrappedBuffer(answer.body()));
        response.headers().set(HttpHeaderNames.CONTENT_TYPE, answer.contentType()).setInt(HttpHeaderNames.CONTENT_LENGTH, answer.body().length)
                .set(HttpHeaderNames.CACHE_CONTROL, "no-store");
        if (answer.replayed()) {
            response.headers().set("Idempotent-Replayed", "true");
        }
        return response;
    }

    private FullHttpResponse metricsPage() {
        var buffer = Unpooled.buffer(16 * 1024);
        try (ByteBufOutputStream out = new ByteBufOutputStream(buffer)) {
            gateway.metrics().writeTextFormat(out);
        } catch (IOException e) {
            buffer.release();
            throw new java.io.UncheckedIOException(e);
        }
        FullHttpResponse response = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK, buffer);
        response.headers().set(HttpHeaderNames.CONTENT_TYPE, NodeMetrics.CONTENT_TYPE).setInt(HttpHeaderNames.CONTENT_LENGTH, buffer.readableBytes());
        return response;
    }

    private static String bearer(String authorization) {
        if (authorization == null || authorization.length() < 7 || !authorization.regionMatches(true, 0, "Bearer ", 0, 7)) {
            return null;
        }
        return authorization.substring(7).trim();
    }

    static FullHttpResponse error(HttpResponseStatus status, String type, String message) {
        AdminApi.Response answer = AdminApi.Response.error(new AdminError(status, type, message));
        FullHttpResponse response = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, status, Unpooled.wrappedBuffer(answer.body()));
        response.headers().set(HttpHeaderNames.CONTENT_TYPE, "application/json").setInt(HttpHeaderNames.CONTENT_LENGTH, answer.body().length);
        return response;
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        if (!(cause instanceof io.netty.handler.timeout.ReadTimeoutException)) {
            LOG.debug("admin connection closed: {}", cause.toString());
        }
        ctx.close();
    }
}
