package dev.tollgate.metering.stream;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class JsonScannerTest {

    private static JsonScanner scan(String json) {
        byte[] bytes = ("xx" + json + "yy").getBytes(StandardCharsets.UTF_8);
        JsonScanner scanner = new JsonScanner();
        scanner.reset(bytes, 2, bytes.length - 4); // an offset range, as events are scanned inside a larger buffer
        return scanner;
    }

    private static List<String> tokens(String json) {
        JsonScanner scanner = scan(json);
        List<String> tokens = new ArrayList<>();
        int token;
        while ((token = scanner.next()) != JsonScanner.END && token != JsonScanner.ERROR) {
            tokens.add(switch (token) {
                case JsonScanner.START_OBJECT -> "{";
                case JsonScanner.END_OBJECT -> "}";
                case JsonScanner.START_ARRAY -> "[";
                case JsonScanner.END_ARRAY -> "]";
                case JsonScanner.FIELD_NAME -> scanner.stringValue() + ":";
                case JsonScanner.STRING -> "'" + scanner.stringValue() + "'";
                case JsonScanner.NUMBER -> "#" + scanner.longValue();
                default -> scanner.isNull() ? "null" : "literal";
            });
        }
        if (token == JsonScanner.ERROR) {
            tokens.add("ERROR");
        }
        return tokens;
    }

    @Test
    void tokenizesObjectsArraysStringsNumbersAndLiterals() {
        assertThat(tokens("{\"a\": [1, \"x\", {\"b\": null}], \"c\": true, \"d\": {}}"))
                .containsExactly("{", "a:", "[", "#1", "'x'", "{", "b:", "null", "}", "]", "c:", "literal", "d:", "{", "}", "}");
    }

    @Test
    void unescapesStringsIncludingUnicode() {
        assertThat(tokens("{\"t\":\"line\\nbreak \\\"quoted\\\" \\u00e9\\ud83d\\ude00 \\\\ \\/\"}"))
                .containsExactly("{", "t:", "'line\nbreak \"quoted\" \u00e9\ud83d\ude00 \\ /'", "}");
        assertThat(tokens("{\"t\":\"日本語\"}")).containsExactly("{", "t:", "'日本語'", "}");
    }

    @Test
    void skipsWholeValuesAndComparesNamesAsBytes() {
        JsonScanner scanner = scan("{\"skip\":{\"deep\":[1,[2,{\"x\":\"}\"}]]},\"keep\":7}");
        assertThat(scanner.next()).isEqualTo(JsonScanner.START_OBJECT);
        assertThat(scanner.next()).isEqualTo(JsonScanner.FIELD_NAME);
        assertThat(scanner.nameEquals("skip".getBytes(StandardCharsets.US_ASCII))).isTrue();
        scanner.next();
        scanner.skipValue();
        assertThat(scanner.next()).isEqualTo(JsonScanner.FIELD_NAME);
        assertThat(scanner.nameEquals("keep".getBytes(StandardCharsets.US_ASCII))).isTrue();
        assertThat(scanner.next()).isEqualTo(JsonScanner.NUMBER);
        assertThat(scanner.longValue()).isEqualTo(7);
        assertThat(scanner.next()).isEqualTo(JsonScanner.END_OBJECT);
        assertThat(scanner.next()).isEqualTo(JsonScanner.END);
    }

    @Test
    void numbersThatAreNotCountsAreMinusOne() {
        assertThat(tokens("[-3, 1.5, 99999999999999999999999, 12]")).containsExactly("[", "#-1", "#-1", "#-1", "#12", "]");
    }

    @Test
    void malformedInputIsAnErrorNotAnException() {
        assertThat(tokens("{\"a\":\"unterminated")).endsWith("ERROR");
        assertThat(tokens("{\"a\" 1}")).endsWith("ERROR");
        assertThat(tokens("[1, 2")).endsWith("ERROR");
        assertThat(tokens("{]")).endsWith("ERROR");
        assertThat(tokens("[".repeat(100))).endsWith("ERROR");
    }
}
