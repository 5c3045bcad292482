package dev.tollgate.proxy.listener;

import static org.assertj.core.api.Assertions.assertThat;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.tollgate.metering.ApiKeys;
import io.netty.handler.codec.http.DefaultHttpHeadersFactory;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;

/**
 * Fuzzes how a request's key is read from its headers ({@code x-api-key}, {@code Authorization: Bearer}), looked
 * up, and shown in an error. Plain test runs replay {@code AuthenticatorFuzzTestInputs/<method>/}; {@code bin/fuzz} fuzzes.
 *
 * <p>Input layout: a byte of flags (which headers are present, duplicated), then the header values as
 * {@link FuzzedDataProvider} strings.
 */
class AuthenticatorFuzzTest {
    private static final String KEY = "tg-fuzz-registered-key-0123456789";
    private static final ApiKeys KEYS = new ApiKeys();

    static {
        KEYS.add(new ApiKeys.ApiKey(ApiKeys.sha256Hex(KEY), "fuzz", "acme", 0));
    }

    /**
     * Whatever the headers: reading the key never throws; a key read is the token presented, stripped, with no
     * scheme; only the registered key, exactly, finds its entry; and what an error shows of a key is never the key
     * itself (for a key longer than its prefix) nor a broken UTF-16 string.
     */
    @FuzzTest
    void aPresentedKeyIsReadExactlyAndNeverShownWhole(FuzzedDataProvider data) {
        int flags = data.consumeByte() & 0xFF;
        String apiKey = data.consumeString(300);
        String authorization = data.consumeString(300);
        if ((flags & 4) != 0) {
            authorization = "Bearer " + authorization;
        }
        if ((flags & 8) != 0) {
            apiKey = KEY;
        }
        HttpHeaders headers = DefaultHttpHeadersFactory.headersFactory().withValidation(false).newHeaders();
        if ((flags & 1) != 0) {
            headers.add("x-api-key", apiKey);
            if ((flags & 16) != 0) {
                headers.add("x-api-key", authorization); // a second value: the first one counts
            }
        }
        if ((flags & 2) != 0) {
            headers.add(HttpHeaderNames.AUTHORIZATION, authorization);
        }

        String presented = Authenticator.presentedKey(headers);
        if (presented == null) {
            assertThat((flags & 1) == 0 || apiKey.isBlank()).as("a non-blank x-api-key is always read").isTrue();
            return;
        }
        assertThat(presented).isEqualTo(presented.strip());
        if ((flags & 1) != 0 && !apiKey.isBlank()) {
            assertThat(presented).as("x-api-key wins").isEqualTo(apiKey.strip());
        } else {
            assertThat(authorization.regionMatches(true, 0, "Bearer ", 0, 7)).isTrue();
            assertThat(presented).as("the token after the scheme").isEqualTo(authorization.substring(7).strip());
        }
        ApiKeys.ApiKey found = KEYS.lookup(presented);
        assertThat(found != null).as("only the registered key, exactly").isEqualTo(presented.equals(KEY));
        String shown = ApiKeys.displayPrefix(presented);
        if (presented.length() > 8) {
            assertThat(shown).as("an error never shows the whole key").doesNotContain(presented);
        }
        for (int i = 0; i < shown.length(); i++) {
            char c = shown.charAt(i);
            if (Character.isHighSurrogate(c)) {
                assertThat(i + 1 < shown.length() && Character.isLowSurrogate(shown.charAt(i + 1)))
                        .as("no half of a character in what is shown: " + shown).isTrue();
                i++;
            } else {
                assertThat(Character.isLowSurrogate(c)).as("no half of a character in what is shown").isFalse();
            }
        }
    }
}
