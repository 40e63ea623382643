/* carprice: one program, many subcommands (`carprice --help`). */
#include "commands.h"

#include <stdio.h>
#include <string.h>

#if CARPRICE_SERVE_ONLY
/* carprice-serve: `serve` alone, without the REST client and the libraries it
 * loads; `carprice serve` hands over to it (apps/CMakeLists.txt). */
static const cp_command_t commands[] = {
    {"serve", "stream predictions Kafka -> model -> Kafka, with health and metrics", cmd_serve},
};
#else
static const cp_command_t commands[] = {
    {"version", "print the versions of carprice and of the components it pins", cmd_version},
    {"sql", "run one Spark SQL statement through Spark Connect and print the rows", cmd_sql},
    {"data", "generate raw-format data; split it into test set and train batches", cmd_data},
    {"requests", "send test rows to Kafka as requests, later the managers' prices", cmd_requests},
    {"source", "publish staged train batches to HDFS atomically, one at a time", cmd_source},
    {"train", "ETL, holdout split and feature pipeline through Spark Connect", cmd_train},
    {"serve", "stream predictions Kafka -> model -> Kafka, with health and metrics", cmd_serve},
    {"watch-data", "one pass: start a training when new complete batches are on HDFS",
     cmd_watch_data},
    {"supervisor", "run serve instances; roll out model versions without a gap", cmd_supervisor},
    {"watch-model", "one pass: roll out the registry's champion, roll back a worse one",
     cmd_watch_model},
    {"audit", "were all requests answered? sent / answered / lost / duplicated per version",
     cmd_audit},
};
#endif

static void usage(FILE *out)
{
    fprintf(out, "usage: carprice <command> [options]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(out, "  %-14s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\n`carprice <command> --help` describes one command.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        if (strcmp(argv[1], commands[i].name) == 0)
            return commands[i].run(argc - 1, argv + 1);
    }
    fprintf(stderr, "carprice: unknown command '%s' (see carprice --help)\n", argv[1]);
    return 2;
}
