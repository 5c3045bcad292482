package dev.tollgate.metering.request;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.core.exc.StreamConstraintsException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tollgate.config.EndpointFamily;
import java.io.IOException;
import java.util.ArrayDeque;
import java.util.Deque;

/**
 * Reads the fields admission needs from a request body and checks their types, as the provider would.
 *
 * <p>Every body, however hostile, gets a {@link Result}: never an exception. Refused with a
 * {@link Rejection} (400 {@code invalid_request_error} on both surfaces) are: bytes that are not valid
 * UTF-8; anything but exactly one JSON object; a field name twice in one object, at any depth (Tollgate
 * would bill one value while a provider may read the other); nesting deeper than
 * {@value #MAX_NESTING_DEPTH}; a number longer than {@value #MAX_NUMBER_CHARS} characters; a {@code model}
 * that is not a non-empty string; an output cap ({@code max_tokens}...) that is not a positive whole
 * number within a long; {@code n}/{@code best_of} outside 1..128.
 */
public final class RequestInspector {
    /** Deeper JSON is refused: no real request nests this far, and a hostile one must not exhaust the stack. */
    static final int MAX_NESTING_DEPTH = 200;
    /** Jackson's own default; a longer number is no count any field here takes. */
    static final int MAX_NUMBER_CHARS = 1_000;
    static final ObjectMapper JSON = new ObjectMapper();

    static {
        // No string limit of Jackson's own (its default is 20 MB): a string is never longer than the body,
        // and the body is already bounded by limits.maxRequestBodyBytes, which is the one limit a client meets.
        JSON.getFactory().setStreamReadConstraints(StreamReadConstraints.builder()
                .maxNestingDepth(MAX_NESTING_DEPTH)
                .maxNumberLength(MAX_NUMBER_CHARS)
                .maxStringLength(Integer.MAX_VALUE)
                .maxNameLength(Integer.MAX_VALUE)
                .build());
        JSON.getFactory().enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION);
        // A second value after the object would be ignored here but may be what a lenient upstream runs,
        // and a rewrite would drop it: the body must be exactly one object, as the providers require.
        JSON.enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);
    }

    private RequestInspector() {
    }

    /** Either the inspected request or the reason to refuse it. */
    public record Result(InspectedRequest request, Rejection rejection) {
        static Result reject(Rejection.Kind kind, String message, String param) {
            return new Result(null, new Rejection(kind, message, param));
        }
    }

    /** For free endpoints (count_tokens): only a JSON object with a model is required. */
    public static Result inspectModelOnly(EndpointFamily family, byte[] body, int offset, int length) {
        return parseWithModel(family, body, offset, length);
    }

    /** The body as a JSON object with a non-empty string {@code model}; the other fields are not looked at yet. */
    private static Result parseWithModel(EndpointFamily family, byte[] body, int offset, int length) {
        int invalidAt = Utf8.firstInvalidByte(body, offset, length);
        if (invalidAt >= 0) {
            return Result.reject(Rejection.Kind.MALFORMED_JSON, "The body of your request is not valid UTF-8 (at byte " + (invalidAt - offset)
                    + "). JSON bodies must be UTF-8.", null);
        }
        JsonNode tree;
        try {
            tree = JSON.readTree(body, offset, length);
        } catch (StreamConstraintsException e) {
            return Result.reject(Rejection.Kind.MALFORMED_JSON, "The JSON body of your request is beyond what Tollgate reads: it may nest at most "
                    + MAX_NESTING_DEPTH + " levels deep, and numbers may have at most " + MAX_NUMBER_CHARS + " characters.", null);
        } catch (JsonProcessingException e) {
            String reason = e.getOriginalMessage();
            if (reason != null && reason.startsWith("Duplicate field")) {
                // Refused, not resolved: Tollgate would bill one value while a provider may act on the other.
                return Result.reject(Rejection.Kind.MALFORMED_JSON, "The JSON body of your request is ambiguous: " + reason
                        + ". Each field may appear only once in an object.", null);
            }
            return Result.reject(Rejection.Kind.MALFORMED_JSON, "We could not parse the JSON body of your request: "
                    + reason + ". The body must be a JSON object.", null);
        } catch (IOException | RuntimeException e) {
            return Result.reject(Rejection.Kind.MALFORMED_JSON, "We could not read the body of your request.", null);
        }
        if (tree == null || !tree.isObject()) {
            return Result.reject(Rejection.Kind.MALFORMED_JSON, "The body of your request must be a JSON object.", null);
        }
        JsonNode model = tree.get("model");
        if (model == null || model.isNull()) {
            return Result.reject(Rejection.Kind.INVALID_PARAMETER, "you must provide a model parameter", "model");
        }
        if (!model.isTextual() || model.textValue().isEmpty()) {
            return Result.reject(Rejection.Kind.INVALID_PARAMETER, "model: expected a non-empty string", "model");
        }
        return new Result(new InspectedRequest(family, (ObjectNode) tree, length, model.textValue(), false, false, -1, null, 1, 0, false), null);
    }

    public static Result inspect(EndpointFamily family, byte[] body, int offset, int length) {
        Result parsed = parseWithModel(family, body, offset, length);
        if (parsed.rejection() != null) {
            return parsed;
        }
        ObjectNode root = parsed.request().body();
        String model = parsed.request().model();

        boolean stream = false;
        JsonNode streamNode = root.get("stream");
        if (streamNode != null && !streamNode.isNull()) {
            if (!streamNode.isBoolean()) {
                return Result.reject(Rejection.Kind.INVALID_PARAMETER, "stream: expected a boolean", "stream");
            }
            stream = streamNode.booleanValue();
        }
        if (stream && family == EndpointFamily.EMBEDDINGS) {
            return Result.reject(Rejection.Kind.INVALID_PARAMETER, "stream: embeddings cannot be streamed", "stream");
        }

        boolean askedForUsage = false;
        JsonNode streamOptions = root.get("stream_options");
        if (streamOptions != null && !streamOptions.isNull()) {
            if (!streamOptions.isObject()) {
                return Result.reject(Rejection.Kind.INVALID_PARAMETER, "stream_options: expected an object", "stream_options");
            }
            JsonNode includeUsage = streamOptions.get("include_usage");
            if (includeUsage != null && !includeUsage.isNull() && !includeUsage.isBoolean()) {
                return Result.reject(Rejection.Kind.INVALID_PARAMETER, "stream_options.include_usage: expected a boolean", "stream_options.include_usage");
            }
            askedForUsage = includeUsage != null && includeUsage.asBoolean(false);
        }

        String outputField = switch (family) {
            case CHAT_COMPLETIONS -> root.has("max_tokens") && !root.has("max_completion_tokens") ? "max_tokens" : "max_completion_tokens";
            case COMPLETIONS, MESSAGES -> "max_tokens";
            case RESPONSES -> "max_output_tokens";
            case EMBEDDINGS -> null;
        };
        long requestedOutput = -1;
        if (outputField != null) {
            JsonNode cap = root.get(outputField);
            if (cap != null && !cap.isNull()) {
                if (!cap.isIntegralNumber() || !cap.canConvertToLong() || cap.longValue() < 1) {
                    return Result.reject(Rejection.Kind.INVALID_PARAMETER, outputField + ": expected a positive integer", outputField);
                }
                requestedOutput = cap.longValue();
            } else if (family == EndpointFamily.MESSAGES) {
                return Result.reject(Rejection.Kind.INVALID_PARAMETER, "max_tokens: Field required", "max_tokens");
            } else if (family == EndpointFamily.COMPLETIONS) {
                requestedOutput = 16; // the legacy completions endpoint's documented default
            }
        }

        long choices = 1;
        if (family == EndpointFamily.CHAT_COMPLETIONS || family == EndpointFamily.COMPLETIONS) {
            choices = positiveCount(root, "n");
            if (family == EndpointFamily.COMPLETIONS && choices > 0) {
                long bestOf = positiveCount(root, "best_of");
                choices = bestOf < 0 ? -1 : Math.max(choices, bestOf);
            }
            if (choices < 0) {
                return Result.reject(Rejection.Kind.INVALID_PARAMETER, "n and best_of: expected integers between 1 and 128", "n");
            }
        }

        boolean storedContext = family == EndpointFamily.RESPONSES
                && (isPresent(root.get("previous_response_id")) || isPresent(root.get("conversation")));
        return new Result(new InspectedRequest(family, root, length, model, stream, askedForUsage,
                requestedOutput, outputField, (int) choices, countImageParts(root), storedContext), null);
    }

    private static long positiveCount(ObjectNode root, String field) {
        JsonNode node = root.get(field);
        if (node == null || node.isNull()) {
            return 1;
        }
        // canConvertToLong first: a BigInteger's longValue() is its low bits, so 2^64 + 5 would pass as 5.
        if (!node.isIntegralNumber() || !node.canConvertToLong() || node.longValue() < 1 || node.longValue() > 128) {
            return -1;
        }
        return node.longValue();
    }

    private static boolean isPresent(JsonNode node) {
        return node != null && !node.isNull();
    }

    /** Content parts of type image_url (chat), input_image (responses) or image (messages), anywhere in the body. */
    static int countImageParts(JsonNode root) {
        int images = 0;
        Deque<JsonNode> pending = new ArrayDeque<>();
        pending.push(root);
        while (!pending.isEmpty()) {
            JsonNode node = pending.pop();
            if (node.isObject()) {
                JsonNode type = node.get("type");
                if (type != null && type.isTextual()) {
                    String t = type.textValue();
                    if (t.equals("image_url") || t.equals("input_image") || t.equals("image")) {
                        images++;
                    }
                }
            }
            if (node.isContainerNode()) {
                for (JsonNode child : node) {
                    if (child.isContainerNode()) {
                        pending.push(child);
                    }
                }
            }
        }
        return images;
    }
}
