package dev.tollgate.proxy;

import io.netty.buffer.Unpooled;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;
import java.nio.charset.StandardCharsets;

/**
 * {@code /healthz} and {@code /readyz}, the same on both listeners and without a key: a load balancer or
 * an orchestrator asks them. Healthy: the process answers. Ready: recovery is over (a Gateway exists only
 * after it) and the journal takes records, so a request admitted now can be charged.
 */
public final class Health {
    private Health() {
    }

    public static FullHttpResponse healthz() {
        return json(HttpResponseStatus.OK, "{\"status\":\"ok\"}");
    }

    public static FullHttpResponse readyz(Gateway gateway) {
        String reason = gateway.notReadyReason();
        if (reason == null) {
            return json(HttpResponseStatus.OK, "{\"status\":\"ready\"}");
        }
        return json(HttpResponseStatus.SERVICE_UNAVAILABLE, "{\"status\":\"not_ready\",\"reason\":\"" + reason + "\"}");
    }

    private static FullHttpResponse json(HttpResponseStatus status, String body) {
        byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
        FullHttpResponse response = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, status, Unpooled.wrappedBuffer(bytes));
        response.headers().set(HttpHeaderNames.CONTENT_TYPE, HttpHeaderValues.APPLICATION_JSON).setInt(HttpHeaderNames.CONTENT_LENGTH, bytes.length)
                .set(HttpHeaderNames.CACHE_CONTROL, "no-store");
        return response;
    }
}
