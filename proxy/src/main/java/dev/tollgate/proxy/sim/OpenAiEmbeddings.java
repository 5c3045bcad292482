package dev.tollgate.proxy.sim;

import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.databind.JsonNode;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.SplittableRandom;

/**
 * {@code POST /v1/embeddings}: one unit vector per input, derived from the input so that equal
 * inputs embed equally. {@code input} is a string, an array of strings, an array of token ids or
 * an array of token-id arrays. {@code dimensions} defaults to {@value #DEFAULT_DIMENSIONS} to keep
 * answers small. {@code encoding_format} {@code "base64"} (what the official openai-java SDK asks
 * for by default) sends each vector as the base64 of its little-endian float32 bytes.
 *
 * <p>Usage: prompt_tokens = total_tokens = the inputs' own tokens, no overhead.
 */
final class OpenAiEmbeddings {

    static final int DEFAULT_DIMENSIONS = 8;
    /** text-embedding-3-large's size: a bound so a typo cannot ask for a gigabyte. */
    private static final int MAX_DIMENSIONS = 3072;

    private OpenAiEmbeddings() {
    }

    /** One input: its text, or its token ids. */
    private record Input(String text, int[] tokenIds) {
        long seed() {
            if (text != null) {
                return text.hashCode() * 0x9E3779B97F4A7C15L;
            }
            long seed = 0x5EED;
            for (int id : tokenIds) {
                seed = seed * 31 + id;
            }
            return seed;
        }
    }

    static void handle(Exchange exchange, JsonNode body) {
        String model = Json.text(body, "model");
        JsonNode inputNode = body.get("input");
        if (model == null) {
            exchange.missingParameter("model");
            return;
        }
        List<Input> inputs = inputs(inputNode);
        if (inputs == null) {
            exchange.missingParameter("input");
            return;
        }
        Prompt prompt = new Prompt();
        for (Input input : inputs) {
            if (input.text() != null) {
                prompt.text(input.text());
            } else {
                prompt.tokens(input.tokenIds().length);
            }
        }
        Directives directives = prompt.directives();
        if (directives.hasError()) {
            exchange.simulatedError(directives.errorStatus());
            return;
        }
        int dimensions = Json.count(body, "dimensions");
        if (dimensions == Directives.ABSENT) {
            dimensions = DEFAULT_DIMENSIONS;
        }
        if (dimensions < 1 || dimensions > MAX_DIMENSIONS) {
            exchange.error(400, "Invalid value for 'dimensions': must be between 1 and " + MAX_DIMENSIONS + ".",
                    "dimensions", null);
            return;
        }
        String encodingFormat = Json.text(body, "encoding_format");
        boolean base64 = "base64".equals(encodingFormat);
        if (encodingFormat != null && !base64 && !"float".equals(encodingFormat)) {
            exchange.error(400, "Invalid value for 'encoding_format': expected 'float' or 'base64'.",
                    "encoding_format", null);
            return;
        }
        int promptTokens = prompt.textTokens(SimTokens.encodingFor(model));
        int size = dimensions;
        exchange.json(directives, g -> {
            g.writeStartObject();
            g.writeStringField("object", "list");
            g.writeArrayFieldStart("data");
            for (int i = 0; i < inputs.size(); i++) {
                g.writeStartObject();
                g.writeStringField("object", "embedding");
                g.writeNumberField("index", i);
                writeVector(g, vector(inputs.get(i), size), base64);
                g.writeEndObject();
            }
            g.writeEndArray();
            g.writeStringField("model", model);
            if (!directives.noUsage()) {
                g.writeObjectFieldStart("usage");
                g.writeNumberField("prompt_tokens", promptTokens);
                g.writeNumberField("total_tokens", promptTokens);
                g.writeEndObject();
            }
            g.writeEndObject();
        });
    }

    /** The inputs, or null when {@code input} has none of the accepted shapes. */
    private static List<Input> inputs(JsonNode node) {
        if (node == null) {
            return null;
        }
        if (node.isTextual()) {
            return List.of(new Input(node.textValue(), null));
        }
        if (!node.isArray() || node.isEmpty()) {
            return null;
        }
        if (node.get(0).isIntegralNumber()) {
            return List.of(new Input(null, tokenIds(node)));
        }
        List<Input> inputs = new ArrayList<>(node.size());
        for (JsonNode element : node) {
            if (element.isTextual()) {
                inputs.add(new Input(element.textValue(), null));
            } else if (element.isArray()) {
                inputs.add(new Input(null, tokenIds(element)));
            } else {
                return null;
            }
        }
        return inputs;
    }

    private static int[] tokenIds(JsonNode array) {
        int[] ids = new int[array.size()];
        for (int i = 0; i < ids.length; i++) {
            ids[i] = array.get(i).asInt();
        }
        return ids;
    }

    /** A unit-length vector, as the real models return. */
    static float[] vector(String text, int dimensions) {
        return vector(new Input(text, null), dimensions);
    }

    private static float[] vector(Input input, int dimensions) {
        SplittableRandom random = new SplittableRandom(input.seed());
        float[] vector = new float[dimensions];
        double norm = 0;
        for (int i = 0; i < dimensions; i++) {
            vector[i] = (float) (random.nextDouble() * 2 - 1);
            norm += vector[i] * vector[i];
        }
        double scale = norm == 0 ? 0 : 1 / Math.sqrt(norm);
        for (int i = 0; i < dimensions; i++) {
            vector[i] = (float) (vector[i] * scale);
        }
        return vector;
    }

    private static void writeVector(JsonGenerator g, float[] vector, boolean base64) throws IOException {
        if (base64) {
            ByteBuffer bytes = ByteBuffer.allocate(vector.length * Float.BYTES).order(ByteOrder.LITTLE_ENDIAN);
            for (float value : vector) {
                bytes.putFloat(value);
            }
            g.writeStringField("embedding", Base64.getEncoder().encodeToString(bytes.array()));
        } else {
            g.writeArrayFieldStart("embedding");
            for (float value : vector) {
                g.writeNumber(value);
            }
            g.writeEndArray();
        }
    }
}
