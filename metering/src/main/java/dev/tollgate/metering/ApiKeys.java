package dev.tollgate.metering;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.util.HexFormat;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The Tollgate keys clients present, stored only as SHA-256 hashes: a raw key exists once, when
 * {@link #newRawKey} makes it for the person who will use it, and never again on this side.
 */
public final class ApiKeys {
    public static final String KEY_PREFIX = "tg-";
    private static final String BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    /** 43 base62 characters carry 256 bits. */
    private static final int RANDOM_CHARACTERS = 43;
    /** 62^6 is more than 2^32: room for a whole CRC-32. */
    private static final int CHECKSUM_CHARACTERS = 6;
    public static final int CHECKSUMMED_KEY_LENGTH = KEY_PREFIX.length() + RANDOM_CHARACTERS + CHECKSUM_CHARACTERS;
    /** Longer presented keys are refused before hashing, so a hostile header cannot make us hash megabytes. */
    public static final int MAX_KEY_LENGTH = 256;
    /** What {@link #displayPrefix} shows of a key: its first code points, then an ellipsis. */
    private static final int SHOWN_CODE_POINTS = 7;
    private static final String ELLIPSIS = "...";
    private static final ThreadLocal<MessageDigest> SHA256 = ThreadLocal.withInitial(ApiKeys::sha256Digest);

    private final Map<String, ApiKey> byHash = new ConcurrentHashMap<>();

    public void add(ApiKey key) {
        if (byHash.putIfAbsent(key.sha256Hex(), key) != null) {
            throw new IllegalArgumentException("key already registered: " + key.label());
        }
    }

    /** Stops a key from working; returns false if it was not registered. */
    public boolean remove(String sha256Hex) {
        return byHash.remove(sha256Hex) != null;
    }

    /** The hashes of every registered key. */
    public java.util.List<String> hashes() {
        return java.util.List.copyOf(byHash.keySet());
    }

    public boolean contains(String sha256Hex) {
        return byHash.containsKey(sha256Hex);
    }

    /**
     * The key a client presented, or null if it is unknown or absurdly long. The checksum is not checked here: a key
     * that fails it is never registered, and the request path of a good key should not pay for it; {@link #checksumFails}
     * tells the client why a key was refused.
     */
    public ApiKey lookup(String presentedKey) {
        if (presentedKey == null || presentedKey.isEmpty() || presentedKey.length() > MAX_KEY_LENGTH) {
            return null;
        }
        return byHash.get(sha256Hex(presentedKey));
    }

    /**
     * A new random key: {@code tg-}, 43 base62 characters (256 bits) and a 6-character base62 CRC-32 of what comes before
     * it, so a secret scanner can recognise a leaked key ({@code tg-[0-9A-Za-z]{49}}) and a typo is caught without a
     * lookup, as GitHub's tokens do. Keys issued before this format (and keys in a configuration) still work.
     */
    public static String newRawKey(SecureRandom random) {
        StringBuilder key = new StringBuilder(CHECKSUMMED_KEY_LENGTH).append(KEY_PREFIX);
        byte[] bytes = new byte[1];
        while (key.length() < KEY_PREFIX.length() + RANDOM_CHARACTERS) {
            random.nextBytes(bytes);
            int value = bytes[0] & 0xFF;
            if (value < 4 * BASE62.length()) { // rejection sampling: every character equally likely
                key.append(BASE62.charAt(value % BASE62.length()));
            }
        }
        return key.append(checksum(key)).toString();
    }

    /**
     * Whether {@code presentedKey} has the checksummed format's shape but not its checksum: a mistyped or truncated key,
     * told apart from an unknown or revoked one without a lookup.
     */
    public static boolean checksumFails(String presentedKey) {
        if (!hasChecksummedShape(presentedKey)) {
            return false;
        }
        return !presentedKey.endsWith(checksum(presentedKey.subSequence(0, CHECKSUMMED_KEY_LENGTH - CHECKSUM_CHARACTERS)));
    }

    /** Whether {@code presentedKey} looks like a key of the checksummed format (checksum not checked). */
    public static boolean hasChecksummedShape(String presentedKey) {
        if (presentedKey.length() != CHECKSUMMED_KEY_LENGTH || !presentedKey.startsWith(KEY_PREFIX)) {
            return false;
        }
        for (int i = KEY_PREFIX.length(); i < CHECKSUMMED_KEY_LENGTH; i++) {
            char c = presentedKey.charAt(i);
            if (!(c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z')) {
                return false;
            }
        }
        return true;
    }

    private static String checksum(CharSequence prefixAndRandom) {
        java.util.zip.CRC32 crc = new java.util.zip.CRC32();
        crc.update(prefixAndRandom.toString().getBytes(StandardCharsets.US_ASCII)); // only ever base62 and the prefix
        long value = crc.getValue();
        char[] digits = new char[CHECKSUM_CHARACTERS];
        for (int i = CHECKSUM_CHARACTERS - 1; i >= 0; i--) {
            digits[i] = BASE62.charAt((int) (value % BASE62.length()));
            value /= BASE62.length();
        }
        return new String(digits);
    }

    public static String sha256Hex(String rawKey) {
        MessageDigest digest = SHA256.get();
        digest.reset();
        return HexFormat.of().formatHex(digest.digest(rawKey.getBytes(StandardCharsets.UTF_8)));
    }

    /**
     * What may be shown of a key in logs and reports: its first seven characters, never enough to use it. Counted in
     * code points so a presented key never shows half a character, and anything but visible ASCII (which every issued
     * key is) shown as {@code ?} so a hostile header cannot put control bytes into a log line. A key of ten code
     * points or fewer shows nothing: its seven and the {@code ...} would otherwise spell the whole of a key that
     * ends in dots.
     */
    public static String displayPrefix(String rawKey) {
        if (rawKey.codePointCount(0, rawKey.length()) <= SHOWN_CODE_POINTS + ELLIPSIS.length()) {
            return "***";
        }
        StringBuilder shown = new StringBuilder(SHOWN_CODE_POINTS + ELLIPSIS.length());
        rawKey.codePoints().limit(SHOWN_CODE_POINTS).forEach(c -> shown.append(c > ' ' && c < 0x7F ? (char) c : '?'));
        return shown.append(ELLIPSIS).toString();
    }

    private static MessageDigest sha256Digest() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("the JDK has no SHA-256", e);
        }
    }

    /**
     * A registered key: its hash (the key's identity: what the journal names, even after the secret was rotated), a
     * non-secret label, the account it spends from, its slot in the ledger's {@link SpendWindows} ({@code -1} for a
     * key without spend caps), what it may do ({@link KeyScope}), and until when the secret it was found by works
     * ({@link #CURRENT} for the current secret; a secret rotated out works until its grace period ends), and its rate
     * limiter (null for a key that never had rate limits).
     */
    public record ApiKey(String sha256Hex, String label, String accountId, int accountSlot, int spendSlot, KeyScope scope,
                         long secretValidUntilMs, RateLimiter rateLimiter) {
        public static final long CURRENT = Long.MAX_VALUE;

        public ApiKey {
            java.util.Objects.requireNonNull(scope, "scope");
        }

        public ApiKey(String sha256Hex, String label, String accountId, int accountSlot) {
            this(sha256Hex, label, accountId, accountSlot, -1);
        }

        public ApiKey(String sha256Hex, String label, String accountId, int accountSlot, int spendSlot) {
            this(sha256Hex, label, accountId, accountSlot, spendSlot, KeyScope.UNRESTRICTED, CURRENT, null);
        }

        /** Why this key cannot be used at {@code nowMs}, or null when it can: it expired, or its secret was rotated out. */
        public String unusableAt(long nowMs) {
            if (nowMs >= secretValidUntilMs) {
                return "rotated";
            }
            return scope.expiredAt(nowMs) ? "expired" : null;
        }
    }

    /** The registered key with this hash, or null. */
    public ApiKey lookupByHash(String sha256Hex) {
        return byHash.get(sha256Hex);
    }

    /** Replaces a registered key (its caps changed); false if it is not registered. */
    public boolean replace(ApiKey key) {
        return byHash.replace(key.sha256Hex(), key) != null;
    }

    /**
     * Registers or replaces the key found by the secret whose hash is {@code secretHash}: a rotated key is found by its
     * new secret and, for a grace period, by its old one, both leading to the same key.
     */
    public void put(String secretHash, ApiKey key) {
        byHash.put(secretHash, key);
    }
}
