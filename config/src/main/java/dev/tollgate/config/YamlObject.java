package dev.tollgate.config;

import com.fasterxml.jackson.databind.JsonNode;
import java.net.URI;
import java.net.URISyntaxException;
import java.time.LocalDate;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.function.BiFunction;

/**
 * A strict reader over one YAML mapping: every field read is remembered, so {@link #rejectUnknown()}
 * can name each field nobody asked for. Wrong or missing values are recorded as problems with their
 * full path and a neutral value is returned, so validation continues and reports everything at once.
 */
final class YamlObject {
    private final JsonNode node;
    private final String path;
    private final Problems problems;
    private final Set<String> known = new LinkedHashSet<>();

    private YamlObject(JsonNode node, String path, Problems problems) {
        this.node = node;
        this.path = path;
        this.problems = problems;
    }

    /** Null (with a problem recorded) when the node is not a mapping. */
    static YamlObject of(JsonNode node, String path, Problems problems) {
        if (node == null || !node.isObject()) {
            problems.add(path, "expected a mapping" + found(node));
            return null;
        }
        return new YamlObject(node, path, problems);
    }

    String path() {
        return path;
    }

    String childPath(String field) {
        return path.isEmpty() ? field : path + "." + field;
    }

    boolean has(String field) {
        known.add(field);
        JsonNode value = node.get(field);
        return value != null && !value.isNull();
    }

    private JsonNode required(String field) {
        known.add(field);
        JsonNode value = node.get(field);
        if (value == null || value.isNull()) {
            problems.add(childPath(field), "missing");
            return null;
        }
        return value;
    }

    String text(String field) {
        JsonNode value = required(field);
        if (value == null) {
            return null;
        }
        if (!value.isTextual() || value.textValue().isBlank()) {
            problems.add(childPath(field), "expected a non-empty string" + found(value));
            return null;
        }
        return value.textValue();
    }

    String optionalText(String field, String defaultValue) {
        return has(field) ? text(field) : defaultValue;
    }

    long nonNegativeLong(String field) {
        JsonNode value = required(field);
        if (value == null) {
            return 0;
        }
        if (!value.isIntegralNumber() || !value.canConvertToLong()) {
            problems.add(childPath(field), "expected a whole number" + found(value));
            return 0;
        }
        long result = value.longValue();
        if (result < 0) {
            problems.add(childPath(field), "must not be negative, found " + result);
            return 0;
        }
        return result;
    }

    long optionalNonNegativeLong(String field, long defaultValue) {
        return has(field) ? nonNegativeLong(field) : defaultValue;
    }

    int boundedInt(String field, int min, int max) {
        long value = nonNegativeLong(field);
        if (value < min || value > max) {
            if (node.get(field) != null && node.get(field).isIntegralNumber() && node.get(field).longValue() >= 0) {
                problems.add(childPath(field), "must be between " + min + " and " + max + ", found " + value);
            }
            return min;
        }
        return (int) value;
    }

    int optionalBoundedInt(String field, int min, int max, int defaultValue) {
        return has(field) ? boundedInt(field, min, max) : defaultValue;
    }

    /** {@code true} or {@code false}; a missing field is {@code defaultValue}. Not "yes", "on" or a quoted string: a typo is a problem. */
    boolean optionalBoolean(String field, boolean defaultValue) {
        if (!has(field)) {
            return defaultValue;
        }
        JsonNode value = node.get(field);
        if (!value.isBoolean()) {
            problems.add(childPath(field), "expected true or false" + found(value));
            return defaultValue;
        }
        return value.booleanValue();
    }

    LocalDate date(String field) {
        JsonNode value = required(field);
        if (value == null) {
            return null;
        }
        try {
            return LocalDate.parse(value.asText());
        } catch (DateTimeParseException e) {
            problems.add(childPath(field), "expected an ISO date like 2025-08-07" + found(value));
            return null;
        }
    }

    /**
     * A moment as a day ({@code 2026-01-01}: its start, 00:00 UTC) or an ISO-8601 instant ({@code 2026-01-01T12:00:00Z});
     * a day alone means UTC so that a catalog reads the same on every node whatever its time zone.
     */
    java.time.Instant instant(String field) {
        JsonNode value = required(field);
        if (value == null) {
            return null;
        }
        String text = value.asText();
        try {
            return text.length() == 10 ? LocalDate.parse(text).atStartOfDay(java.time.ZoneOffset.UTC).toInstant() : java.time.Instant.parse(text);
        } catch (DateTimeParseException e) {
            problems.add(childPath(field), "expected a day like 2026-01-01 (00:00 UTC) or an instant like 2026-01-01T12:00:00Z" + found(value));
            return null;
        }
    }

    /** An absolute http or https URL with a host and no query, fragment or user info. */
    URI httpUrl(String field) {
        String text = text(field);
        if (text == null) {
            return null;
        }
        try {
            URI uri = new URI(text);
            String scheme = uri.getScheme();
            if (scheme == null || !(scheme.equals("http") || scheme.equals("https")) || uri.getHost() == null
                    || uri.getRawQuery() != null || uri.getRawFragment() != null || uri.getRawUserInfo() != null) {
                problems.add(childPath(field), "expected an absolute http(s) URL with a host and no query, fragment or credentials, found \"" + text + "\"");
                return null;
            }
            return uri;
        } catch (URISyntaxException e) {
            problems.add(childPath(field), "not a valid URL: \"" + text + "\"");
            return null;
        }
    }

    <E extends Enum<E>> E enumValue(String field, Class<E> type, BiFunction<String, Class<E>, E> parser) {
        String text = text(field);
        if (text == null) {
            return null;
        }
        E value = parser.apply(text, type);
        if (value == null) {
            List<String> allowed = new ArrayList<>();
            for (E constant : type.getEnumConstants()) {
                allowed.add(constant.name().toLowerCase(java.util.Locale.ROOT));
            }
            problems.add(childPath(field), "expected one of " + allowed + ", found \"" + text + "\"");
        }
        return value;
    }

    /** Like {@link #list(String, boolean)} for a required list that must not be empty. */
    List<JsonNode> nonEmptyList(String field) {
        List<JsonNode> items = list(field, true);
        JsonNode value = node.get(field);
        if (items.isEmpty() && value != null && value.isArray()) {
            problems.add(childPath(field), "must not be empty");
        }
        return items;
    }

    /** The elements of a sequence field; missing or not a sequence records a problem and yields none. */
    List<JsonNode> list(String field, boolean required) {
        JsonNode value = required ? required(field) : (has(field) ? node.get(field) : null);
        if (value == null) {
            return List.of();
        }
        if (!value.isArray()) {
            problems.add(childPath(field), "expected a list" + found(value));
            return List.of();
        }
        List<JsonNode> items = new ArrayList<>();
        value.elements().forEachRemaining(items::add);
        return items;
    }

    /** Whether {@code field} is present and says no listener / feature at all: {@code off} or {@code false}. */
    boolean isOff(String field) {
        known.add(field);
        JsonNode value = node.get(field);
        return value != null && (value.isBoolean() && !value.booleanValue()
                || value.isTextual() && (value.textValue().equals("off") || value.textValue().equals("false")));
    }

    YamlObject object(String field, boolean required) {
        JsonNode value = required ? required(field) : (has(field) ? node.get(field) : null);
        if (value == null) {
            return null;
        }
        return of(value, childPath(field), problems);
    }

    /** The names of the mapping's fields, in the order written: for a mapping whose keys are data (a name to a value). */
    java.util.List<String> fieldNames() {
        java.util.List<String> names = new java.util.ArrayList<>();
        node.fieldNames().forEachRemaining(names::add);
        return names;
    }

    /** Records a problem for every field that no accessor asked for. Call after reading all fields. */
    void rejectUnknown() {
        Iterator<String> names = node.fieldNames();
        while (names.hasNext()) {
            String name = names.next();
            if (!known.contains(name)) {
                problems.add(childPath(name), "unknown field (known fields: " + String.join(", ", known) + ")");
            }
        }
    }

    static String found(JsonNode node) {
        if (node == null || node.isMissingNode()) {
            return "";
        }
        String text = node.isTextual() ? "\"" + node.textValue() + "\"" : node.toString();
        if (text.length() > 60) {
            text = text.substring(0, 57) + "...";
        }
        return ", found " + text;
    }
}
