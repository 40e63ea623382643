/* The carprice subcommands. Each takes the arguments after its own name
 * (argv[0] is the subcommand name) and returns the process exit status. */
#ifndef CARPRICE_COMMANDS_H
#define CARPRICE_COMMANDS_H

typedef struct {
    const char *name;
    const char *summary;
    int (*run)(int argc, char **argv);
} cp_command_t;

int cmd_version(int argc, char **argv);
int cmd_sql(int argc, char **argv);
int cmd_data(int argc, char **argv);
int cmd_data_split(int argc, char **argv);
int cmd_requests(int argc, char **argv);
int cmd_train(int argc, char **argv);
int cmd_source(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_watch_data(int argc, char **argv);
int cmd_supervisor(int argc, char **argv);
int cmd_watch_model(int argc, char **argv);
int cmd_audit(int argc, char **argv);

#endif
