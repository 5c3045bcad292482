package dev.tollgate.metering;

import com.knuddels.jtokkit.Encodings;
import com.knuddels.jtokkit.api.Encoding;
import com.knuddels.jtokkit.api.EncodingRegistry;
import com.knuddels.jtokkit.api.EncodingType;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Counts tokens with a model's encoding (jtokkit). Exact for OpenAI models; for other providers a
 * catalog row names the closest public encoding, so their inline counts are an approximation that
 * only matters when the provider reports no usage or a stream must be cut at its reservation.
 */
public final class TokenCounter {
    private static final EncodingRegistry REGISTRY = Encodings.newLazyEncodingRegistry();
    private static final Map<String, TokenCounter> BY_NAME = new ConcurrentHashMap<>();

    private final Encoding encoding;

    private TokenCounter(Encoding encoding) {
        this.encoding = encoding;
    }

    /** The counter for an encoding name such as {@code o200k_base}; unknown names fall back to {@code cl100k_base}. */
    public static TokenCounter forEncoding(String name) {
        return BY_NAME.computeIfAbsent(name, n -> new TokenCounter(REGISTRY.getEncoding(EncodingType.fromName(n)
                .orElse(EncodingType.CL100K_BASE))));
    }

    public int count(String text) {
        return text == null || text.isEmpty() ? 0 : encoding.countTokens(text);
    }
}
