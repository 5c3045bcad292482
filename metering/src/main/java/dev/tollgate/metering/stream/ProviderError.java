package dev.tollgate.metering.stream;

/**
 * An error the provider reported inside a stream that had already started: OpenAI chat's
 * {@code data: {"error": {...}}}, a Responses {@code error} or {@code response.failed} event, an
 * Anthropic {@code event: error}. Such a stream did not complete, whatever else it sent.
 *
 * <p>Both strings come from the provider and are bounded here: {@code type} is at most
 * {@value #MAX_TYPE_CHARS} characters of {@code [A-Za-z0-9_.:-]} (others become {@code _}), fit for a
 * metric label or a log line; {@code message} is at most {@value #MAX_MESSAGE_CHARS} characters and
 * is the provider's own text, which may echo the request: do not log it where prompts may not go.
 *
 * @param type    the provider's error type or code ({@code server_error}, {@code overloaded_error}...), or a
 *                stand-in naming the event when it gave none
 * @param message the provider's message, or {@code "upstream error"} when it gave none
 */
public record ProviderError(String type, String message) {
    public static final int MAX_TYPE_CHARS = 64;
    public static final int MAX_MESSAGE_CHARS = 512;

    public ProviderError {
        type = boundedType(type);
        message = message == null || message.isEmpty() ? "upstream error" : truncated(message, MAX_MESSAGE_CHARS);
    }

    private static String boundedType(String type) {
        if (type == null || type.isEmpty()) {
            return "error";
        }
        StringBuilder bounded = new StringBuilder(Math.min(type.length(), MAX_TYPE_CHARS));
        for (int i = 0; i < type.length() && bounded.length() < MAX_TYPE_CHARS; i++) {
            char c = type.charAt(i);
            boolean allowed = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.'
                    || c == ':' || c == '-';
            bounded.append(allowed ? c : '_');
        }
        return bounded.toString();
    }

    /** At most {@code maxChars}, never splitting a surrogate pair. */
    private static String truncated(String text, int maxChars) {
        if (text.length() <= maxChars) {
            return text;
        }
        int cut = Character.isHighSurrogate(text.charAt(maxChars - 1)) ? maxChars - 1 : maxChars;
        return text.substring(0, cut);
    }
}
