package dev.tollgate.proxy.upstream;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * A local OpenAI-compatible server that answers {@code POST /v1/chat/completions} as vLLM's OpenAI server does
 * ({@code vllm/entrypoints/openai}: {@code serving_chat.py}, {@code protocol.py}), so that Tollgate is tested against
 * an endpoint that is not its own simulator. What differs from OpenAI, and is reproduced here:
 * <ul>
 *   <li>ids {@code chatcmpl-} and 32 hex digits; a JSON body dumped whole, so {@code "prompt_tokens_details": null},
 *       {@code "reasoning_content": null}, {@code "tool_calls": []}, {@code "stop_reason": null} and
 *       {@code "prompt_logprobs": null} are there;</li>
 *   <li>stream chunks without a {@code usage} field unless asked for (OpenAI sends {@code "usage": null}); with
 *       {@code stream_options.include_usage} a last chunk of {@code "choices": []} and the usage; with
 *       {@code continuous_usage_stats} too, a cumulative usage in every chunk, the first one with
 *       {@code completion_tokens: 0};</li>
 *   <li>the end-of-sequence token counted in {@code completion_tokens} of an answer that stopped, though it adds no text;</li>
 *   <li>errors in vLLM's flat shape (before 0.10) {@code {"object":"error","message":...,"type":...,"param":null,"code":N}}
 *       with that status (400 BadRequestError for a context overflow, 404 NotFoundError for a model it does not serve), and
 *       an error during generation as one such chunk in the stream, then {@code [DONE]};</li>
 *   <li>{@code --api-key}: a request without {@code Authorization: Bearer} and that key gets 401 {@code {"error":"Unauthorized"}}.</li>
 * </ul>
 *
 * <p>Its "tokenizer" is words: the prompt is {@link #TEMPLATE_TOKENS} plus, per message, {@link #TOKENS_PER_MESSAGE} and
 * the words of its content, and the answer is {@link #REPLY}, one word a token. These counts are its own, unlike
 * Tollgate's o200k estimate, so a test that bills exactly them shows the bill came from the server's usage. A message
 * containing {@link #ENGINE_ERROR} makes the engine fail before any output. Every request is recorded.
 */
public final class VllmLikeServer implements AutoCloseable {
    public static final String REPLY = "Hello! I am a small model served by a vLLM-like test server.";
    public static final int TEMPLATE_TOKENS = 8;
    public static final int TOKENS_PER_MESSAGE = 4;
    public static final String ENGINE_ERROR = "[vllm:engine-error]";
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String[] REPLY_TOKENS = replyTokens();

    /** One request as it arrived: header names in lower case, each with its values in order. */
    public record Received(String method, String path, Map<String, List<String>> headers, String body) {
        public List<String> header(String name) {
            return headers.getOrDefault(name.toLowerCase(Locale.ROOT), List.of());
        }
    }

    private final HttpServer server;
    private final ExecutorService executor;
    private final String servedModel;
    private final String apiKey;
    private final int maxModelLenTokens;
    private final List<Received> received = new CopyOnWriteArrayList<>();

    private VllmLikeServer(String servedModel, String apiKey, int maxModelLenTokens) throws IOException {
        this.servedModel = servedModel;
        this.apiKey = apiKey;
        this.maxModelLenTokens = maxModelLenTokens;
        server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 64);
        executor = Executors.newFixedThreadPool(4, runnable -> {
            Thread thread = new Thread(runnable, "vllm-like-server");
            thread.setDaemon(true);
            return thread;
        });
        server.setExecutor(executor);
        server.createContext("/", this::handle);
        server.start();
    }

    /**
     * @param servedModel       the one model it serves ({@code --served-model-name})
     * @param apiKey            the key it requires ({@code --api-key}), or null for none
     * @param maxModelLenTokens its context window ({@code --max-model-len}): prompt plus requested output above it is a 400
     */
    public static VllmLikeServer start(String servedModel, String apiKey, int maxModelLenTokens) {
        try {
            return new VllmLikeServer(servedModel, apiKey, maxModelLenTokens);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The base URL a provider configures: the server's {@code /v1}. */
    public String baseUrl() {
        return "http://127.0.0.1:" + server.getAddress().getPort() + "/v1";
    }

    public List<Received> received() {
        return List.copyOf(received);
    }

    /** What this server counts for a prompt of one message of {@code words} words. */
    public static long promptTokensOfOneMessage(long words) {
        return TEMPLATE_TOKENS + TOKENS_PER_MESSAGE + words;
    }

    /** The completion tokens of {@link #REPLY} answered whole: one per word and the end-of-sequence token. */
    public static long replyCompletionTokens() {
        return REPLY_TOKENS.length + 1;
    }

    /** The flat error body vLLM answers with {@code status}: the shape of its {@code ErrorResponse} before 0.10. */
    public static String errorBody(String message, String type, int status) {
        ObjectNode error = JSON.createObjectNode();
        error.put("object", "error");
        error.put("message", message);
        error.put("type", type);
        error.putNull("param");
        error.put("code", status);
        return error.toString();
    }

    private void handle(HttpExchange exchange) throws IOException {
        try (exchange) {
            String body = new String(exchange.getRequestBody().readAllBytes(), StandardCharsets.UTF_8);
            Map<String, List<String>> headers = new HashMap<>();
            exchange.getRequestHeaders().forEach((name, values) -> headers.put(name.toLowerCase(Locale.ROOT), List.copyOf(values)));
            String path = exchange.getRequestURI().getPath();
            received.add(new Received(exchange.getRequestMethod(), exchange.getRequestURI().toString(), Map.copyOf(headers), body));
            if (!path.equals("/v1/chat/completions")) {
                send(exchange, 404, "{\"detail\":\"Not Found\"}"); // FastAPI's own answer for a route it does not have
                return;
            }
            if (apiKey != null && !("Bearer " + apiKey).equals(exchange.getRequestHeaders().getFirst("Authorization"))) {
                send(exchange, 401, "{\"error\":\"Unauthorized\"}");
                return;
            }
            if (!exchange.getRequestMethod().equals("POST")) {
                send(exchange, 405, "{\"detail\":\"Method Not Allowed\"}");
                return;
            }
            chatCompletion(exchange, JSON.readTree(body));
        }
    }

    private void chatCompletion(HttpExchange exchange, JsonNode request) throws IOException {
        String model = request.path("model").asText();
        if (!model.equals(servedModel)) {
            send(exchange, 404, errorBody("The model `" + model + "` does not exist.", "NotFoundError", 404));
            return;
        }
        JsonNode messages = request.path("messages");
        if (!messages.isArray() || messages.isEmpty()) {
            send(exchange, 400, errorBody("messages: a non-empty list is required", "BadRequestError", 400));
            return;
        }
        long promptTokens = TEMPLATE_TOKENS;
        boolean engineError = false;
        for (JsonNode message : messages) {
            String content = message.path("content").asText("");
            promptTokens += TOKENS_PER_MESSAGE + words(content);
            engineError |= content.contains(ENGINE_ERROR);
        }
        JsonNode cap = request.hasNonNull("max_completion_tokens") ? request.get("max_completion_tokens") : request.get("max_tokens");
        long maxTokens = cap != null && cap.canConvertToLong() ? cap.asLong() : maxModelLenTokens - promptTokens;
        if (promptTokens + maxTokens > maxModelLenTokens) {
            send(exchange, 400, errorBody("This model's maximum context length is " + maxModelLenTokens + " tokens. However, you requested "
                    + (promptTokens + maxTokens) + " tokens (" + promptTokens + " in the messages, " + maxTokens
                    + " in the completion). Please reduce the length of the messages or completion.", "BadRequestError", 400));
            return;
        }
        boolean stream = request.path("stream").asBoolean(false);
        if (engineError && !stream) {
            send(exchange, 500, errorBody("The engine failed while processing the request.", "InternalServerError", 500));
            return;
        }
        int generated = (int) Math.min(REPLY_TOKENS.length, maxTokens);
        boolean stopped = maxTokens > REPLY_TOKENS.length; // room left for the end-of-sequence token
        long completionTokens = generated + (stopped ? 1 : 0);
        String id = "chatcmpl-" + UUID.randomUUID().toString().replace("-", "");
        long created = System.currentTimeMillis() / 1000;
        if (stream) {
            JsonNode options = request.path("stream_options");
            boolean includeUsage = options.path("include_usage").asBoolean(false);
            boolean continuousUsage = includeUsage && options.path("continuous_usage_stats").asBoolean(false);
            stream(exchange, id, created, engineError, promptTokens, generated, stopped, includeUsage, continuousUsage);
        } else {
            send(exchange, 200, completion(id, created, promptTokens, generated, stopped, completionTokens).toString());
        }
    }

    private ObjectNode completion(String id, long created, long promptTokens, int generated, boolean stopped, long completionTokens) {
        ObjectNode body = JSON.createObjectNode();
        body.put("id", id);
        body.put("object", "chat.completion");
        body.put("created", created);
        body.put("model", servedModel);
        ObjectNode choice = body.putArray("choices").addObject();
        choice.put("index", 0);
        ObjectNode message = choice.putObject("message");
        message.put("role", "assistant");
        message.putNull("reasoning_content");
        message.put("content", String.join("", java.util.Arrays.copyOf(REPLY_TOKENS, generated)));
        message.putArray("tool_calls");
        choice.putNull("logprobs");
        choice.put("finish_reason", stopped ? "stop" : "length");
        choice.putNull("stop_reason");
        ObjectNode usage = body.putObject("usage");
        usage.put("prompt_tokens", promptTokens);
        usage.put("total_tokens", promptTokens + completionTokens);
        usage.put("completion_tokens", completionTokens);
        usage.putNull("prompt_tokens_details");
        body.putNull("prompt_logprobs");
        body.putNull("kv_transfer_params");
        return body;
    }

    private void stream(HttpExchange exchange, String id, long created, boolean engineError, long promptTokens, int generated, boolean stopped,
                        boolean includeUsage, boolean continuousUsage) throws IOException {
        exchange.getResponseHeaders().set("Content-Type", "text/event-stream; charset=utf-8");
        exchange.sendResponseHeaders(200, 0); // chunked, as uvicorn streams
        OutputStream out = exchange.getResponseBody();
        if (engineError) {
            event(out, errorBody("The engine failed while processing the request.", "InternalServerError", 500));
            event(out, "[DONE]");
            return;
        }
        ObjectNode role = chunk(id, created);
        ObjectNode first = role.putArray("choices").addObject();
        first.put("index", 0);
        first.putObject("delta").put("role", "assistant").put("content", "");
        first.putNull("logprobs");
        first.putNull("finish_reason");
        event(out, withUsage(role, continuousUsage, promptTokens, 0).toString());
        for (int i = 0; i < generated; i++) {
            boolean last = i == generated - 1 && !stopped;
            ObjectNode piece = chunk(id, created);
            ObjectNode choice = piece.putArray("choices").addObject();
            choice.put("index", 0);
            choice.putObject("delta").put("content", REPLY_TOKENS[i]);
            choice.putNull("logprobs");
            if (last) {
                choice.put("finish_reason", "length");
                choice.putNull("stop_reason");
            } else {
                choice.putNull("finish_reason");
            }
            event(out, withUsage(piece, continuousUsage, promptTokens, i + 1).toString());
        }
        long completionTokens = generated + (stopped ? 1 : 0);
        if (stopped) {
            // The end-of-sequence token: counted, no text.
            ObjectNode end = chunk(id, created);
            ObjectNode choice = end.putArray("choices").addObject();
            choice.put("index", 0);
            choice.putObject("delta").put("content", "");
            choice.putNull("logprobs");
            choice.put("finish_reason", "stop");
            choice.putNull("stop_reason");
            event(out, withUsage(end, continuousUsage, promptTokens, completionTokens).toString());
        }
        if (includeUsage) {
            ObjectNode usage = chunk(id, created);
            usage.putArray("choices");
            event(out, withUsage(usage, true, promptTokens, completionTokens).toString());
        }
        event(out, "[DONE]");
    }

    private ObjectNode chunk(String id, long created) {
        ObjectNode chunk = JSON.createObjectNode();
        chunk.put("id", id);
        chunk.put("object", "chat.completion.chunk");
        chunk.put("created", created);
        chunk.put("model", servedModel);
        return chunk;
    }

    /** vLLM's UsageInfo as a chunk dumps it (only the fields it set): prompt, total, completion, in that order. */
    private static ObjectNode withUsage(ObjectNode chunk, boolean include, long promptTokens, long completionTokens) {
        if (include) {
            chunk.putObject("usage").put("prompt_tokens", promptTokens).put("total_tokens", promptTokens + completionTokens)
                    .put("completion_tokens", completionTokens);
        }
        return chunk;
    }

    private static void event(OutputStream out, String data) throws IOException {
        out.write(("data: " + data + "\n\n").getBytes(StandardCharsets.UTF_8));
        out.flush();
    }

    private static void send(HttpExchange exchange, int status, String json) throws IOException {
        byte[] bytes = json.getBytes(StandardCharsets.UTF_8);
        exchange.getResponseHeaders().set("Content-Type", "application/json");
        exchange.sendResponseHeaders(status, bytes.length);
        exchange.getResponseBody().write(bytes);
    }

    private static long words(String text) {
        String stripped = text.strip();
        return stripped.isEmpty() ? 0 : stripped.split("\\s+").length;
    }

    private static String[] replyTokens() {
        String[] words = REPLY.split(" ");
        List<String> tokens = new ArrayList<>();
        for (int i = 0; i < words.length; i++) {
            tokens.add(i == 0 ? words[i] : " " + words[i]);
        }
        return tokens.toArray(String[]::new);
    }

    @Override
    public void close() {
        server.stop(0);
        executor.shutdownNow();
    }
}
