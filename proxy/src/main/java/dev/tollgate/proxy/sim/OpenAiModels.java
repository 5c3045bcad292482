package dev.tollgate.proxy.sim;

import com.fasterxml.jackson.databind.JsonNode;

import java.util.List;

/** {@code GET /v1/models}: OpenAI's list shape over a few well-known ids. */
final class OpenAiModels {

    private record Model(String id, long createdEpochSeconds, String ownedBy) {
    }

    private static final List<Model> MODELS = List.of(
            new Model("gpt-4o-mini", 1721172741L, "system"),
            new Model("gpt-4o", 1715367049L, "system"),
            new Model("gpt-4.1", 1744316542L, "system"),
            new Model("gpt-5", 1754425777L, "system"),
            new Model("o3-mini", 1737146383L, "system"),
            new Model("gpt-3.5-turbo-instruct", 1692901427L, "system"),
            new Model("text-embedding-3-small", 1705948997L, "system"));

    private OpenAiModels() {
    }

    static void handle(Exchange exchange, JsonNode unusedBody) {
        exchange.json(Directives.NONE, g -> {
            g.writeStartObject();
            g.writeStringField("object", "list");
            g.writeArrayFieldStart("data");
            for (Model model : MODELS) {
                g.writeStartObject();
                g.writeStringField("id", model.id());
                g.writeStringField("object", "model");
                g.writeNumberField("created", model.createdEpochSeconds());
                g.writeStringField("owned_by", model.ownedBy());
                g.writeEndObject();
            }
            g.writeEndArray();
            g.writeEndObject();
        });
    }
}
