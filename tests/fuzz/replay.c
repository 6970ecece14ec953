/*
 * Corpus replay: runs a libFuzzer target's LLVMFuzzerTestOneInput over every
 * file named on the command line (or in the directories named), so `make
 * check` exercises each fuzz corpus without clang's fuzzer runtime. Prints TAP.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int count;

static int
run_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf;
    long n;

    if (f == NULL)
        return -1;
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = malloc(n > 0 ? (size_t)n : 1);
    if (buf == NULL || fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        fclose(f);
        return -1;
    }
    fclose(f);
    LLVMFuzzerTestOneInput(buf, (size_t)n);
    free(buf);
    printf("ok %d - %s\n", ++count, path);
    return 0;
}

int
main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st) != 0) {
            /* a corpus that is not there is a failure, not "0 tests" */
            printf("not ok %d - %s: missing\n", ++count, argv[i]);
            continue;
        }
        if (S_ISDIR(st.st_mode)) {
            DIR *d = opendir(argv[i]);
            struct dirent *de;
            while (d != NULL && (de = readdir(d)) != NULL) {
                char path[4096];
                if (de->d_name[0] == '.')
                    continue;
                snprintf(path, sizeof(path), "%s/%s", argv[i], de->d_name);
                if (run_file(path) != 0)
                    printf("not ok %d - %s: unreadable\n", ++count, path);
            }
            if (d != NULL)
                closedir(d);
        } else if (run_file(argv[i]) != 0) {
            printf("not ok %d - %s: unreadable\n", ++count, argv[i]);
        }
    }
    if (count == 0) /* an empty corpus replays nothing: that must not pass */
        printf("not ok %d - no corpus input given or found\n", ++count);
    printf("1..%d\n", count);
    return 0;
}
