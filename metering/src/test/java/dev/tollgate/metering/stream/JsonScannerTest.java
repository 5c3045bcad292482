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

    @Test
    void aBadEscapeIsAnErrorNotANumberFormatException() {
        for (String escape : new String[] {"\\uZZZZ", "\\u12", "\\u12G4", "\\x", "\\", "\\u"}) {
            String json = "{\"t\":\"a" + escape + "\"}";
            assertThat(tokens(json)).as(json).containsExactly("{", "t:", "ERROR");
        }
        assertThat(tokens("{\"\\uZZZZ\":1}")).as("in a field name too").containsExactly("{", "ERROR");
        assertThat(tokens("{\"t\":\"\\u00E9\\uD83D\\uDE00\"}")).as("upper-case hex is hex").containsExactly("{", "t:", "'\u00e9\ud83d\ude00'", "}");
    }

    @Test
    void anErrorIsFinalUntilReset() {
        JsonScanner scanner = scan("{\"a\":\"\\q\",\"b\":2}");
        assertThat(scanner.next()).isEqualTo(JsonScanner.START_OBJECT);
        assertThat(scanner.next()).isEqualTo(JsonScanner.FIELD_NAME);
        assertThat(scanner.failed()).isFalse();
        assertThat(scanner.next()).isEqualTo(JsonScanner.ERROR);
        assertThat(scanner.failed()).isTrue();
        assertThat(scanner.next()).as("no resynchronising on what follows").isEqualTo(JsonScanner.ERROR);
        assertThat(scanner.wholeObject()).isFalse();
        byte[] fine = "{}".getBytes(StandardCharsets.UTF_8);
        scanner.reset(fine, 0, fine.length);
        assertThat(scanner.failed()).isFalse();
        assertThat(scanner.wholeObject()).isTrue();
    }

    @Test
    void onlyOneWellFormedValueIsADocument() {
        String[] malformed = {"{} {}", "{}x", "[1,]", "[,1]", "{\"a\":}", "{\"a\":1,}", "{\"a\":1 \"b\":2}", "{\"a\" 1}", "{1:2}",
            "{\"a\":1,,\"b\":2}", "[1 2]", "{[]:1}", "[01]", "[1.]", "[.5]", "[-]", "[1e]", "[+1]", "[24abc]", "[tru]", "[nul]",
            "[nope]", "[True]", "[\"a\"\"b\"]", "{\"a\":1}}", "]", ","};
        for (String json : malformed) {
            assertThat(tokens(json)).as(json).endsWith("ERROR");
            assertThat(scan(json).wholeObject()).as(json).isFalse();
        }
        String[] wellFormed = {"[0, -0, 1.5e-3, 1E+2, 9.3e18, -5, 24.5]", "[true, false, null]", " { \"a\" : [ ] , \"b\" : { } } \n"};
        for (String json : wellFormed) {
            assertThat(tokens(json)).as(json).doesNotContain("ERROR");
        }
        assertThat(scan("{\"a\":[1,{\"b\":null}]}").wholeObject()).isTrue();
        assertThat(scan("[1]").wholeObject()).as("well-formed, but not an object").isFalse();
        assertThat(scan("42").wholeObject()).isFalse();
        assertThat(scan("").wholeObject()).isFalse();
        assertThat(tokens("[nope]")).as("isNull is exact").doesNotContain("null");
    }

    @Test
    void randomBytesNeverThrow() {
        long seed = dev.tollgate.metering.Seeds.seed("JsonScannerTest.randomBytesNeverThrow");
        java.util.SplittableRandom random = new java.util.SplittableRandom(seed);
        byte[] alphabet = "{}[]\",:\\u0aZ-1.eE+ tnrfl\n".getBytes(StandardCharsets.UTF_8);
        JsonScanner scanner = new JsonScanner();
        for (int i = 0; i < 20_000; i++) {
            byte[] bytes = new byte[random.nextInt(0, 60)];
            for (int b = 0; b < bytes.length; b++) {
                bytes[b] = random.nextInt(8) == 0 ? (byte) random.nextInt(256) : alphabet[random.nextInt(alphabet.length)];
            }
            scanner.reset(bytes, 0, bytes.length);
            for (int steps = 0; steps < 200; steps++) {
                int token = scanner.next();
                if (token == JsonScanner.STRING || token == JsonScanner.FIELD_NAME) {
                    scanner.stringValue();
                } else if (token == JsonScanner.NUMBER) {
                    scanner.longValue();
                } else if (token == JsonScanner.END || token == JsonScanner.ERROR) {
                    break;
                }
            }
        }
    }
}
