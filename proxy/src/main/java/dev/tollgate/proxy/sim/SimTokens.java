package dev.tollgate.proxy.sim;

import com.knuddels.jtokkit.Encodings;
import com.knuddels.jtokkit.api.Encoding;
import com.knuddels.jtokkit.api.EncodingRegistry;
import com.knuddels.jtokkit.api.EncodingType;

import java.util.List;

/**
 * The simulator's tokenizer rules and generated text.
 *
 * <p>Every generated word is exactly one token in both {@code o200k_base} and {@code cl100k_base}
 * (checked by a test), so the output tokens of an answer are, by construction, the number of
 * content deltas it streams.
 */
final class SimTokens {

    private static final EncodingRegistry REGISTRY = Encodings.newDefaultEncodingRegistry();
    static final Encoding O200K = REGISTRY.getEncoding(EncodingType.O200K_BASE);
    static final Encoding CL100K = REGISTRY.getEncoding(EncodingType.CL100K_BASE);

    private static final List<String> O200K_MODEL_PREFIXES = List.of("gpt-4o", "gpt-4.1", "gpt-5", "o1", "o3", "o4");

    /** The generated text cycles through these; each is a single token in both encodings. */
    static final List<String> OUTPUT_WORDS = List.of(
            " alpha", " beta", " gamma", " delta", " river", " stone", " cloud", " light",
            " green", " house", " water", " north", " south", " paper", " music", " table",
            " field", " metal", " glass", " story", " orange", " silver", " garden", " window",
            " market", " bridge", " forest", " summer", " winter", " number", " simple", " little");

    /** Per message, and once per request, as in OpenAI's published counting recipe. */
    static final int TOKENS_PER_MESSAGE = 3;
    static final int TOKENS_PER_REQUEST = 3;

    private SimTokens() {
    }

    /** {@code o200k_base} for the GPT-4o / 4.1 / 5 and o-series families, {@code cl100k_base} for everything else. */
    static Encoding encodingFor(String model) {
        if (model != null) {
            for (String prefix : O200K_MODEL_PREFIXES) {
                if (model.startsWith(prefix)) {
                    return O200K;
                }
            }
        }
        return CL100K;
    }

    /** The i-th generated word (i from 0). */
    static String word(int i) {
        return OUTPUT_WORDS.get(i % OUTPUT_WORDS.size());
    }

    /** The whole generated text of {@code tokens} words, exactly what the deltas of a stream concatenate to. */
    static String text(int tokens) {
        StringBuilder text = new StringBuilder(tokens * 7);
        for (int i = 0; i < tokens; i++) {
            text.append(word(i));
        }
        return text.toString();
    }

    /** Counts as ordinary text: a prompt containing {@code <|endoftext|>} is text, not a special token. */
    static int count(Encoding encoding, String text) {
        return text.isEmpty() ? 0 : encoding.countTokensOrdinary(text);
    }
}
