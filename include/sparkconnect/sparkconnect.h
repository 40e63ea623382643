/* libsparkconnect: a C client for Apache Spark Connect.
 *
 * Include this one header for the whole API: sessions, DataFrames and SQL,
 * results, ML and Structured Streaming. Link with `pkg-config --libs
 * sparkconnect`. */
#ifndef SPARKCONNECT_SPARKCONNECT_H
#define SPARKCONNECT_SPARKCONNECT_H

#include "sparkconnect/dataframe.h"
#include "sparkconnect/error.h"
#include "sparkconnect/ml.h"
#include "sparkconnect/result.h"
#include "sparkconnect/session.h"
#include "sparkconnect/streaming.h"

#endif
