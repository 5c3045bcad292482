package dev.tollgate.config;

/**
 * A class of tokens a row may price apart from the kind it is part of. The providers report these as parts of a kind
 * (OpenAI's {@code prompt_tokens_details.audio_tokens} inside {@code prompt_tokens}, Anthropic's
 * {@code cache_creation.ephemeral_1h_input_tokens} inside {@code cache_creation_input_tokens}), so a row that does not
 * name a class bills those tokens at the price of their kind, and one that does bills them at its own and the rest
 * of the kind at the kind's. The four kinds themselves (input, cache read, cache write, output) are the row's own
 * prices; the cache-write kind is priced at the five-minute lifetime.
 */
public enum TokenClass {
    /** Anthropic's one-hour cache writes (2x input, where the five-minute ones are 1.25x). */
    CACHE_WRITE_1H("cache_write_1h", Kind.CACHE_WRITE),
    AUDIO_INPUT("audio_input", Kind.INPUT),
    IMAGE_INPUT("image_input", Kind.INPUT),
    AUDIO_OUTPUT("audio_output", Kind.OUTPUT),
    IMAGE_OUTPUT("image_output", Kind.OUTPUT),
    /** Reasoning (thinking) tokens, for a model that prices them apart from the rest of its output. */
    REASONING("reasoning", Kind.OUTPUT);

    /** The kind a class is a part of. */
    public enum Kind {
        INPUT, CACHE_WRITE, OUTPUT
    }

    private final String yamlName;
    private final Kind kind;

    TokenClass(String yamlName, Kind kind) {
        this.yamlName = yamlName;
        this.kind = kind;
    }

    /** The class's name in the catalog and the admin API ({@code cache_write_1h}). */
    public String yamlName() {
        return yamlName;
    }

    public Kind kind() {
        return kind;
    }

    /** The class named {@code name} in the catalog, or null. */
    public static TokenClass parse(String name) {
        for (TokenClass tokenClass : values()) {
            if (tokenClass.yamlName.equals(name)) {
                return tokenClass;
            }
        }
        return null;
    }
}
