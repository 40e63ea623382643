#include "commands.h"

#include <stdio.h>
#include <string.h>

int cmd_version(int argc, char **argv)
{
    if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        printf("usage: carprice version\n\nPrints carprice's version and the pinned versions of "
               "Spark, Kafka, Hadoop and MLflow it was built for.\n");
        return 0;
    }
    if (argc > 1) {
        fprintf(stderr, "carprice version: unexpected argument '%s'\n", argv[1]);
        return 2;
    }
    printf("carprice %s\nspark %s\nkafka %s\nhadoop %s\nmlflow %s\n", CARPRICE_VERSION,
           CARPRICE_SPARK_VERSION, CARPRICE_KAFKA_VERSION, CARPRICE_HADOOP_VERSION,
           CARPRICE_MLFLOW_VERSION);
    return 0;
}
