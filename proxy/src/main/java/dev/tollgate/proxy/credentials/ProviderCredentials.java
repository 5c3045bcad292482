package dev.tollgate.proxy.credentials;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tollgate.config.Secret;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.GeneralSecurityException;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Function;
import javax.crypto.Cipher;
import javax.crypto.SecretKey;
import javax.crypto.spec.GCMParameterSpec;
import javax.crypto.spec.SecretKeySpec;

/**
 * The accounts' own provider credentials, for their direct routes: set and removed through the admin API, held in
 * memory for the request path, and kept at rest only encrypted (AES-256-GCM under the master key from
 * {@value #MASTER_KEY_ENV}, each bound to its account and provider so a ciphertext cannot be moved to another). Never
 * returned, never logged ({@link Secret} hides its value), never in the journal, which only records that one was set.
 *
 * <p>Without a master key nothing can be kept: setting a credential is refused, so direct routes serve no one. A file
 * written under another master key does not open: the node refuses to start rather than lose the credentials.
 */
public final class ProviderCredentials {
    /** The environment variable holding the master key: 32 bytes, base64. */
    public static final String MASTER_KEY_ENV = "TOLLGATE_MASTER_KEY";
    /** The file beside the journal that keeps the encrypted credentials. */
    public static final String FILE_NAME = "provider-credentials.json";
    /** The longest credential kept: provider keys are far shorter; a longer one is a mistake, not a key. */
    public static final int MAX_CREDENTIAL_LENGTH = 1024;
    private static final int NONCE_BYTES = 12;
    private static final int TAG_BITS = 128;
    private static final ObjectMapper JSON = new ObjectMapper();

    /** One credential's description: what the admin API shows instead of the credential. */
    public record Entry(String accountId, String provider, long setAtMs) {
    }

    private record Held(Secret secret, long setAtMs) {
    }

    private final Path file;
    private final SecretKey masterKey;
    private final SecureRandom random = new SecureRandom();
    /** account, then provider: read on the request path without a lock; every change rewrites the file under this object's lock. */
    private final Map<String, Map<String, Held>> byAccount = new ConcurrentHashMap<>();

    private ProviderCredentials(Path file, SecretKey masterKey) {
        this.file = file;
        this.masterKey = masterKey;
    }

    /** No credentials and no way to keep any: every set is refused. */
    public static ProviderCredentials none() {
        return new ProviderCredentials(null, null);
    }

    /**
     * The credentials kept in {@code directory} (null: in memory only, for a node without a journal directory) under the
     * master key from {@code environment}; none can be set without one.
     *
     * @throws IllegalStateException when the master key is malformed, or the file exists and does not open under it
     */
    public static ProviderCredentials open(Path directory, Function<String, String> environment) {
        String encoded = environment.apply(MASTER_KEY_ENV);
        if (encoded == null || encoded.isBlank()) {
            return new ProviderCredentials(null, null);
        }
        byte[] key;
        try {
            key = Base64.getDecoder().decode(encoded.strip());
        } catch (IllegalArgumentException e) {
            throw new IllegalStateException(MASTER_KEY_ENV + " is not base64 (32 random bytes: openssl rand -base64 32)");
        }
        if (key.length != 32) {
            throw new IllegalStateException(MASTER_KEY_ENV + " holds " + key.length + " bytes; it must hold 32 (openssl rand -base64 32)");
        }
        ProviderCredentials credentials = new ProviderCredentials(directory == null ? null : directory.resolve(FILE_NAME),
                new SecretKeySpec(key, "AES"));
        credentials.load();
        return credentials;
    }

    /** Whether credentials can be set: a master key is configured. */
    public boolean available() {
        return masterKey != null;
    }

    /** The account's credential for {@code provider}, or null: for the upstream request of a direct route only. */
    public Secret get(String accountId, String provider) {
        Map<String, Held> providers = byAccount.get(accountId);
        Held held = providers == null ? null : providers.get(provider);
        return held == null ? null : held.secret();
    }

    /** The account's credentials, described (never the values), by provider name. */
    public List<Entry> list(String accountId) {
        Map<String, Held> providers = byAccount.getOrDefault(accountId, Map.of());
        List<Entry> entries = new ArrayList<>();
        new TreeMap<>(providers).forEach((provider, held) -> entries.add(new Entry(accountId, provider, held.setAtMs())));
        return entries;
    }

    /**
     * Sets (or replaces) the account's credential for {@code provider}, on disk before it is used.
     *
     * @throws IllegalStateException without a master key
     */
    public synchronized Entry set(String accountId, String provider, String credential, long nowMs) {
        if (masterKey == null) {
            throw new IllegalStateException("no master key: set " + MASTER_KEY_ENV + " (32 random bytes, base64) to keep provider credentials");
        }
        Map<String, Map<String, Held>> after = copy();
        after.computeIfAbsent(accountId, id -> new ConcurrentHashMap<>()).put(provider, new Held(new Secret(credential), nowMs));
        save(after);
        byAccount.computeIfAbsent(accountId, id -> new ConcurrentHashMap<>()).put(provider, new Held(new Secret(credential), nowMs));
        return new Entry(accountId, provider, nowMs);
    }

    /** Removes the account's credential for {@code provider}; false when it had none. */
    public synchronized boolean remove(String accountId, String provider) {
        Map<String, Held> providers = byAccount.get(accountId);
        if (providers == null || !providers.containsKey(provider)) {
            return false;
        }
        Map<String, Map<String, Held>> after = copy();
        after.get(accountId).remove(provider);
        save(after);
        providers.remove(provider);
        return true;
    }

    private Map<String, Map<String, Held>> copy() {
        Map<String, Map<String, Held>> copy = new TreeMap<>();
        byAccount.forEach((account, providers) -> copy.put(account, new TreeMap<>(providers)));
        return copy;
    }

    private static byte[] associatedData(String accountId, String provider) {
        return ("tollgate-provider-credential\u0000" + accountId + '\u0000' + provider).getBytes(StandardCharsets.UTF_8);
    }

    /** Writes every credential, encrypted, to a new file that replaces the old one whole: a crash leaves one or the other. */
    private void save(Map<String, Map<String, Held>> all) {
        if (file == null) {
            return;
        }
        ObjectNode root = JSON.createObjectNode();
        root.put("version", 1);
        root.put("cipher", "AES-256-GCM");
        ArrayNode entries = root.putArray("credentials");
        try {
            for (Map.Entry<String, Map<String, Held>> account : all.entrySet()) {
                for (Map.Entry<String, Held> provider : account.getValue().entrySet()) {
                    byte[] nonce = new byte[NONCE_BYTES];
                    random.nextBytes(nonce);
                    Cipher cipher = Cipher.getInstance("AES/GCM/NoPadding");
                    cipher.init(Cipher.ENCRYPT_MODE, masterKey, new GCMParameterSpec(TAG_BITS, nonce));
                    cipher.updateAAD(associatedData(account.getKey(), provider.getKey()));
                    byte[] sealed = cipher.doFinal(provider.getValue().secret().reveal().getBytes(StandardCharsets.UTF_8));
                    entries.addObject().put("account", account.getKey()).put("provider", provider.getKey())
                            .put("set_at_ms", provider.getValue().setAtMs())
                            .put("nonce", Base64.getEncoder().encodeToString(nonce))
                            .put("ciphertext", Base64.getEncoder().encodeToString(sealed));
                }
            }
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("AES-GCM is unavailable", e);
        }
        try {
            Files.createDirectories(file.getParent());
            Path temporary = file.resolveSibling(FILE_NAME + ".tmp");
            Files.write(temporary, JSON.writeValueAsBytes(root));
            try {
                Files.setPosixFilePermissions(temporary, PosixFilePermissions.fromString("rw-------"));
            } catch (UnsupportedOperationException notPosix) {
                // Still encrypted; the permission is a second fence, not the first.
            }
            try {
                Files.move(temporary, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(temporary, file, StandardCopyOption.REPLACE_EXISTING);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot keep the provider credentials in " + file, e);
        }
    }

    private void load() {
        if (file == null || !Files.exists(file)) {
            return;
        }
        try {
            JsonNode root = JSON.readTree(Files.readAllBytes(file));
            for (JsonNode entry : root.path("credentials")) {
                String account = entry.path("account").asText();
                String provider = entry.path("provider").asText();
                Cipher cipher = Cipher.getInstance("AES/GCM/NoPadding");
                cipher.init(Cipher.DECRYPT_MODE, masterKey, new GCMParameterSpec(TAG_BITS, Base64.getDecoder().decode(entry.path("nonce").asText())));
                cipher.updateAAD(associatedData(account, provider));
                String credential = new String(cipher.doFinal(Base64.getDecoder().decode(entry.path("ciphertext").asText())), StandardCharsets.UTF_8);
                byAccount.computeIfAbsent(account, id -> new ConcurrentHashMap<>()).put(provider, new Held(new Secret(credential), entry.path("set_at_ms").asLong()));
            }
        } catch (javax.crypto.AEADBadTagException e) {
            throw new IllegalStateException(file + " does not open under this " + MASTER_KEY_ENV + " (another master key, or the file was changed)");
        } catch (IOException | GeneralSecurityException | IllegalArgumentException e) {
            throw new IllegalStateException("cannot read the provider credentials in " + file + ": " + e.getMessage());
        }
    }
}
