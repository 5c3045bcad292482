package dev.tollgate.config;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import java.io.IOException;
import java.io.InputStream;
import java.util.List;

/** Reads a YAML document into a tree, refusing duplicate keys; syntax errors become one problem line. */
final class Yaml {
    private static final ObjectMapper MAPPER = new ObjectMapper(new YAMLFactory())
            .enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION);

    private Yaml() {
    }

    static JsonNode read(String fileName, InputStream in) {
        try {
            JsonNode tree = MAPPER.readTree(in);
            if (tree == null || tree.isMissingNode()) {
                throw new ConfigException(List.of(fileName + ": the file is empty"));
            }
            return tree;
        } catch (JsonProcessingException e) {
            String where = e.getLocation() == null ? "" : "line " + e.getLocation().getLineNr() + ": ";
            throw new ConfigException(List.of(fileName + ": " + where + e.getOriginalMessage()));
        } catch (IOException e) {
            throw new ConfigException(List.of(fileName + ": cannot read: " + e.getMessage()));
        }
    }
}
