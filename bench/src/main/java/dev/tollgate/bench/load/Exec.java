package dev.tollgate.bench.load;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** Runs a short command to completion and keeps its output (stdout and stderr together). */
final class Exec {

    private Exec() {
    }

    record Output(List<String> command, int status, String text) {
        String requireSuccess(String what) {
            if (status != 0) {
                throw new IllegalStateException(what + " failed (status " + status + "): " + String.join(" ", command) + "\n" + text);
            }
            return text;
        }
    }

    static Output run(List<String> command, Duration timeout) throws IOException, InterruptedException {
        Path out = Files.createTempFile("tollgate-load-exec", ".out");
        try {
            Process process = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(out.toFile()).start();
            if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
                process.destroyForcibly();
                process.waitFor(10, TimeUnit.SECONDS);
                throw new IllegalStateException("timed out after " + timeout + ": " + String.join(" ", command));
            }
            return new Output(command, process.exitValue(), Files.readString(out, StandardCharsets.UTF_8));
        } finally {
            Files.deleteIfExists(out);
        }
    }
}
