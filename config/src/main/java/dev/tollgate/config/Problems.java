package dev.tollgate.config;

import java.util.ArrayList;
import java.util.List;

/** Collects validation problems of one file; each problem names the file, the path and the reason. */
final class Problems {
    private final String fileName;
    private final List<String> lines = new ArrayList<>();

    Problems(String fileName) {
        this.fileName = fileName;
    }

    void add(String path, String reason) {
        lines.add(path.isEmpty() ? fileName + ": " + reason : fileName + ": " + path + ": " + reason);
    }

    boolean isEmpty() {
        return lines.isEmpty();
    }

    List<String> lines() {
        return lines;
    }

    void throwIfAny() {
        if (!lines.isEmpty()) {
            throw new ConfigException(lines);
        }
    }
}
