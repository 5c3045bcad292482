package dev.tollgate.config;

import static org.assertj.core.api.Assertions.assertThat;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import java.io.ByteArrayInputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

/**
 * Fuzzes the YAML configuration loader with arbitrary bytes (an operator's typo, a hostile file). Plain test runs
 * replay {@code ConfigLoaderFuzzTestInputs/<method>/}; {@code bin/fuzz} fuzzes.
 */
class ConfigLoaderFuzzTest {
    /** What the environment holds for every {@code apiKeyEnv}: it must never appear in a problem report. */
    private static final String SECRET = "sk-fuzz-secret-never-echoed-7f3a";
    private static final Path DIRECTORY;

    static {
        try {
            DIRECTORY = Files.createTempDirectory("tollgate-config-fuzz");
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    /**
     * Whatever the file: loading ends in a configuration or a {@link ConfigException} listing problems (never another
     * exception, a stack overflow or an alias bomb's blow-up), and no problem line quotes a provider key.
     */
    @FuzzTest
    void loadingEndsInAConfigurationOrProblemsNeverAnotherFailure(FuzzedDataProvider data) {
        byte[] yaml = data.consumeRemainingAsBytes();
        try {
            TollgateConfig config = ConfigLoader.load("fuzz.yaml", new ByteArrayInputStream(yaml), DIRECTORY,
                    name -> Map.of("OPENAI_API_KEY", SECRET, "ANTHROPIC_API_KEY", SECRET).getOrDefault(name, SECRET));
            assertThat(config).isNotNull();
            assertThat(config.toString()).as("a loaded configuration never prints its keys").doesNotContain(SECRET);
        } catch (ConfigException e) {
            assertThat(e.problems()).as("a refusal says what is wrong").isNotEmpty();
            assertThat(String.join("\n", e.problems())).as("no problem line quotes a provider key").doesNotContain(SECRET);
        }
    }
}
