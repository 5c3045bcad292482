package dev.tollgate.proxy.sim;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.databind.JsonNode;
import io.netty.buffer.ByteBufInputStream;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.util.ReferenceCountUtil;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Per connection: records each request, routes it, checks its key, parses its JSON and hands it
 * to the endpoint. One answer at a time per connection, as HTTP/1.1 requires: a request that
 * arrives while a stream is still being written (pipelining) waits its turn.
 */
final class SimHttpHandler extends ChannelInboundHandlerAdapter {

    /** An endpoint: answers one parsed request (the body is null for GET). */
    @FunctionalInterface
    interface Endpoint {
        void handle(Exchange exchange, JsonNode body);
    }

    private record Route(HttpMethod method, Dialect dialect, Endpoint endpoint) {
    }

    private static final Map<String, Route> ROUTES = Map.of(
            "/v1/chat/completions", new Route(HttpMethod.POST, Dialect.OPENAI, OpenAiChat::handle),
            "/v1/completions", new Route(HttpMethod.POST, Dialect.OPENAI, OpenAiCompletions::handle),
            "/v1/embeddings", new Route(HttpMethod.POST, Dialect.OPENAI, OpenAiEmbeddings::handle),
            "/v1/responses", new Route(HttpMethod.POST, Dialect.OPENAI, OpenAiResponses::handle),
            "/v1/models", new Route(HttpMethod.GET, Dialect.OPENAI, OpenAiModels::handle),
            "/v1/messages", new Route(HttpMethod.POST, Dialect.ANTHROPIC, AnthropicMessages::handle),
            "/v1/messages/count_tokens", new Route(HttpMethod.POST, Dialect.ANTHROPIC, AnthropicMessages::countTokens));

    private final SimulatedProvider provider;
    private final ArrayDeque<FullHttpRequest> pipelined = new ArrayDeque<>();
    private ChannelHandlerContext ctx;
    private Exchange current;
    private SseStream stream;
    private boolean closing;

    SimHttpHandler(SimulatedProvider provider) {
        this.provider = provider;
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        this.ctx = ctx;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (!(msg instanceof FullHttpRequest request)) {
            ReferenceCountUtil.release(msg);
            return;
        }
        if (current != null || closing) {
            pipelined.addLast(request);
            return;
        }
        serve(request);
    }

    @Override
    public void channelWritabilityChanged(ChannelHandlerContext ctx) {
        if (stream != null) {
            stream.writabilityChanged();
        }
        ctx.fireChannelWritabilityChanged();
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        closing = true;
        if (stream != null) {
            stream.channelClosed();
        }
        while (!pipelined.isEmpty()) {
            pipelined.pollFirst().release();
        }
        ctx.fireChannelInactive();
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        // Mostly peers resetting connections mid-stream; a test double has no one to report to.
        ctx.close();
    }

    void streaming(SseStream stream) {
        this.stream = stream;
    }

    void exchangeDone(Exchange exchange, boolean connectionClosing) {
        if (exchange != current) {
            return;
        }
        current = null;
        stream = null;
        closing |= connectionClosing;
        while (current == null && !closing && !pipelined.isEmpty()) {
            serve(pipelined.pollFirst());
        }
    }

    private void serve(FullHttpRequest request) {
        try {
            String path = pathOf(request.uri());
            provider.record(record(request));
            Route route = ROUTES.get(path);
            Dialect dialect = route != null ? route.dialect()
                    : path.startsWith("/v1/messages") ? Dialect.ANTHROPIC : Dialect.OPENAI;
            boolean keepAlive = HttpUtil.isKeepAlive(request) && request.decoderResult().isSuccess();
            Exchange exchange = new Exchange(provider, this, ctx, dialect, keepAlive);
            current = exchange;
            if (!request.decoderResult().isSuccess()) {
                exchange.error(400, "Could not parse the HTTP request.", null, null);
                return;
            }
            if (route == null || !route.method().equals(request.method())) {
                exchange.error(404, "Invalid URL (" + request.method() + " " + path + ")", null, null);
                return;
            }
            String apiKey = dialect.apiKey(request.headers());
            String requiredApiKey = provider.settings().requiredApiKey();
            if (apiKey == null) {
                exchange.json(HttpResponseStatus.UNAUTHORIZED,
                        dialect.missingKeyError(exchange.requestId()));
                return;
            }
            if (requiredApiKey != null && !requiredApiKey.equals(apiKey)) {
                exchange.json(HttpResponseStatus.UNAUTHORIZED,
                        dialect.wrongKeyError(exchange.requestId()));
                return;
            }
            JsonNode body = null;
            if (request.method().equals(HttpMethod.POST)) {
                body = parse(request);
                if (body == null) {
                    exchange.error(400, "We could not parse the JSON body of your request.", null, null);
                    return;
                }
            }
            route.endpoint().handle(exchange, body);
        } finally {
            request.release();
        }
    }

    /** The body as a JSON object, or null when it is not one. */
    private static JsonNode parse(FullHttpRequest request) {
        try (InputStream in = new ByteBufInputStream(request.content().duplicate())) {
            JsonNode node = Json.MAPPER.readTree(in);
            return node != null && node.isObject() ? node : null;
        } catch (JacksonException e) {
            return null;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static String pathOf(String uri) {
        int query = uri.indexOf('?');
        String path = query < 0 ? uri : uri.substring(0, query);
        // Tolerate "/v1/models/" and absolute-form targets ("http://host/v1/...") as proxies send them.
        if (path.startsWith("http://") || path.startsWith("https://")) {
            int slash = path.indexOf('/', path.indexOf("//") + 2);
            path = slash < 0 ? "/" : path.substring(slash);
        }
        return path.length() > 1 && path.endsWith("/") ? path.substring(0, path.length() - 1) : path;
    }

    private static RecordedRequest record(FullHttpRequest request) {
        Map<String, List<String>> headers = new LinkedHashMap<>();
        for (Map.Entry<String, String> header : request.headers()) {
            headers.computeIfAbsent(header.getKey().toLowerCase(Locale.ROOT), name -> new ArrayList<>(1))
                    .add(header.getValue());
        }
        headers.replaceAll((name, values) -> List.copyOf(values));
        String body = request.content().toString(StandardCharsets.UTF_8);
        return new RecordedRequest(request.method().name(), request.uri(), headers, body);
    }
}
