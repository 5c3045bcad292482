package dev.tollgate.metering.request;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.knuddels.jtokkit.Encodings;
import com.knuddels.jtokkit.api.Encoding;
import com.knuddels.jtokkit.api.EncodingType;
import dev.tollgate.metering.TokenCounter;
import org.junit.jupiter.api.Test;

class PromptEstimatorTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Encoding O200K = Encodings.newDefaultEncodingRegistry().getEncoding(EncodingType.O200K_BASE);

    @Test
    void countsMessageTextPlusTheChatFormatOverhead() throws Exception {
        String body = """
                {"model":"gpt-4o-mini","user":"user-123","messages":[
                  {"role":"system","content":"You are terse."},
                  {"role":"user","content":[{"type":"text","text":"What is in this image?"},
                    {"type":"image_url","image_url":{"url":"data:image/png;base64,iVBORw0KGgoAAAANSUhEUg","detail":"low"}}]}],
                 "max_tokens":50,"temperature":0.2}""";
        long estimate = PromptEstimator.estimateTokens(JSON.readTree(body), TokenCounter.forEncoding("o200k_base"));
        long text = O200K.countTokens("You are terse.") + O200K.countTokens("What is in this image?");
        // 3 for the reply priming, 3 per message, the text, and one token per number (max_tokens, temperature).
        assertThat(estimate).isEqualTo(3 + 2 * 3 + text + 2);
    }

    @Test
    void embeddingsTokenIdsCountOneEach() throws Exception {
        long estimate = PromptEstimator.estimateTokens(JSON.readTree("{\"model\":\"m\",\"input\":[[1,2,3],[4,5]]}"),
                TokenCounter.forEncoding("cl100k_base"));
        assertThat(estimate).isEqualTo(3 + 5);
    }

    @Test
    void unknownEncodingFallsBackToCl100k() {
        assertThat(TokenCounter.forEncoding("no_such_encoding").count("hello world, again"))
                .isEqualTo(TokenCounter.forEncoding("cl100k_base").count("hello world, again"));
        assertThat(TokenCounter.forEncoding("o200k_base").count(null)).isZero();
        assertThat(TokenCounter.forEncoding("o200k_base").count("")).isZero();
    }
}
