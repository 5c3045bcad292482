package dev.tollgate.metering;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.security.SecureRandom;
import java.util.HashSet;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** Invariant 7: keys are stored and looked up only by their hash. */
class ApiKeysTest {

    @Test
    void sha256IsTheStandardHexDigest() {
        // The digest the config's sha256 field expects (echo -n test | sha256sum).
        assertThat(ApiKeys.sha256Hex("test")).isEqualTo("9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08");
        assertThat(ApiKeys.sha256Hex("")).isEqualTo("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
        assertThat(ApiKeys.sha256Hex("tg-é")).isEqualTo(ApiKeys.sha256Hex("tg-é")).hasSize(64).matches("[0-9a-f]{64}");
    }

    @Test
    void lookupByPresentedKey() {
        String raw = ApiKeys.newRawKey(new SecureRandom());
        ApiKeys keys = new ApiKeys();
        ApiKeys.ApiKey key = new ApiKeys.ApiKey(ApiKeys.sha256Hex(raw), "ci", "acme", 0);
        keys.add(key);
        assertThat(keys.lookup(raw)).isSameAs(key);
        assertThat(keys.lookup(raw + "x")).isNull();
        assertThat(keys.lookup(ApiKeys.sha256Hex(raw))).as("the hash itself is not a key").isNull();
        assertThat(keys.lookup(null)).isNull();
        assertThat(keys.lookup("")).isNull();
        assertThat(keys.lookup("x".repeat(ApiKeys.MAX_KEY_LENGTH + 1))).isNull();
        assertThat(key.toString()).doesNotContain(raw);
        assertThatThrownBy(() -> keys.add(new ApiKeys.ApiKey(ApiKeys.sha256Hex(raw), "again", "other", 1)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageNotContaining(raw);
    }

    @Test
    void newKeysAreLongRandomAndPrefixed() {
        SecureRandom random = new SecureRandom();
        Set<String> seen = new HashSet<>();
        for (int i = 0; i < 1_000; i++) {
            String raw = ApiKeys.newRawKey(random);
            assertThat(raw).startsWith(ApiKeys.KEY_PREFIX).hasSize(3 + 43 + 6).matches("tg-[0-9A-Za-z]{49}");
            assertThat(ApiKeys.checksumFails(raw)).isFalse();
            assertThat(seen.add(raw)).isTrue();
        }
    }

    /** Seeded: each run changes one character of a new key, and the checksum must catch every such typo. */
    @Test
    void aMistypedKeyFailsItsChecksum() {
        java.util.Random random = new java.util.Random(Seeds.seed("aMistypedKeyFailsItsChecksumAndIsNotLookedUp"));
        SecureRandom secure = new SecureRandom();
        String alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
        ApiKeys keys = new ApiKeys();
        for (int i = 0; i < 2_000; i++) {
            String raw = ApiKeys.newRawKey(secure);
            int at = 3 + random.nextInt(49);
            char replacement;
            do {
                replacement = alphabet.charAt(random.nextInt(alphabet.length()));
            } while (replacement == raw.charAt(at));
            String typo = raw.substring(0, at) + replacement + raw.substring(at + 1);
            assertThat(ApiKeys.checksumFails(typo)).as("%s mistyped at %d as %s", raw, at, typo).isTrue();
            assertThat(keys.lookup(typo)).isNull();
        }
        // Keys of the older format, and of a configuration, are not checked and still work.
        String older = "tg-" + "A".repeat(43);
        keys.put(ApiKeys.sha256Hex(older), new ApiKeys.ApiKey(ApiKeys.sha256Hex(older), "older", "acme", 0));
        assertThat(ApiKeys.checksumFails(older)).isFalse();
        assertThat(keys.lookup(older)).isNotNull();
    }

    @Test
    void displayPrefixNeverShowsEnoughToUseTheKey() {
        String raw = ApiKeys.newRawKey(new SecureRandom());
        assertThat(ApiKeys.displayPrefix(raw)).isEqualTo(raw.substring(0, 7) + "...");
        assertThat(ApiKeys.displayPrefix("short")).isEqualTo("***");
        assertThat(ApiKeys.displayPrefix("12345678")).isEqualTo("***");
        // Found by bin/fuzz: a cut by UTF-16 units showed half of a surrogate pair.
        assertThat(ApiKeys.displayPrefix("tg-abc\uD83D\uDE00defgh")).isEqualTo("tg-abc?...");
        assertThat(ApiKeys.displayPrefix("\uD83D\uDE00\uD83D\uDE00\uD83D\uDE00\uD83D\uDE00\uD83D\uDE00")).isEqualTo("***");
        assertThat(ApiKeys.displayPrefix("tg\r\nX-Evil: 1abcdef")).isEqualTo("tg??X-E...");
        // Found by bin/fuzz (CI, 2026-12-07): a key that ends in dots was shown whole as its prefix and the ellipsis.
        assertThat(ApiKeys.displayPrefix("abcdefg...")).isEqualTo("***");
        assertThat(ApiKeys.displayPrefix("abcdefg..")).isEqualTo("***");
        assertThat(ApiKeys.displayPrefix("abcdefghijk")).isEqualTo("abcdefg...");
    }
}
