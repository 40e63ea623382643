/* Static tables the generator draws from: makes, models, trims, cities,
 * colours, options and description phrases. All facts are approximate
 * 2020 US-market figures written for this project. */
#ifndef CARPRICE_DATA_CATALOG_H
#define CARPRICE_DATA_CATALOG_H

#include <stddef.h>
#include <stdint.h>

enum {
    BODY_SUV,
    BODY_SEDAN,
    BODY_PICKUP,
    BODY_HATCH,
    BODY_MINIVAN,
    BODY_COUPE,
    BODY_VAN,
    BODY_WAGON,
    BODY_CONVERTIBLE,
    BODY_COUNT
};

enum {
    FUEL_GAS,
    FUEL_FLEX,
    FUEL_HYBRID,
    FUEL_DIESEL,
    FUEL_ELECTRIC,
    FUEL_BIODIESEL,
    FUEL_CNG,
    FUEL_PROPANE,
    FUEL_COUNT
};

enum { DRIVE_FWD, DRIVE_AWD, DRIVE_4WD, DRIVE_RWD, DRIVE_4X2, DRIVE_COUNT };

/* How a model's alternative drive is offered. */
enum {
    ALT_NONE,     /* only the default drive */
    ALT_AWD,      /* default (FWD/RWD) or AWD */
    ALT_4WD,      /* 4X2 or 4WD (trucks, body-on-frame SUVs) */
    ALT_AWD_ONLY, /* always AWD */
    ALT_4WD_ONLY  /* always 4WD */
};

typedef struct {
    const char *name;
    const char *wmi[3];  /* VIN world manufacturer identifiers */
    double depreciation; /* yearly log-value loss rate, early years */
    uint8_t luxury;      /* 0 mass market, 1 premium, 2 exotic */
} cp_make_t;

typedef struct {
    uint8_t make; /* index into cp_makes */
    const char *name;
    uint8_t body;
    uint8_t size;  /* 0 smallest .. 4 largest within its body type */
    uint32_t msrp; /* base trim, dollars */
    uint16_t hp;   /* base engine */
    uint8_t seats;
    uint8_t mpg_city; /* 0: not rated (heavy duty, electric) */
    uint8_t mpg_hwy;
    uint8_t fuel;  /* default fuel */
    uint8_t drive; /* default drive */
    uint8_t alt;   /* ALT_* */
    uint8_t trims; /* index into cp_trim_families */
    uint16_t first_year;
    double weight; /* relative listing frequency within the whole table */
} cp_model_t;

typedef struct {
    const char *names[7];
    int count;
} cp_trim_family_t;

typedef struct {
    const char *city;
    const char *state;
    const char *zip; /* five digits, leading zeros kept */
    double lat, lon;
    double weight;
} cp_city_t;

typedef struct {
    const char *group; /* listing_color */
    const char *names[8];
    int count;
    double weight;
} cp_color_t;

extern const cp_make_t cp_makes[];
extern const size_t cp_nmakes;
extern const cp_model_t cp_models[];
extern const size_t cp_nmodels;
extern const cp_trim_family_t cp_trim_families[];
extern const cp_city_t cp_cities[];
extern const size_t cp_ncities;
extern const cp_color_t cp_colors[];
extern const size_t cp_ncolors;

extern const char *const cp_body_names[BODY_COUNT];
extern const char *const cp_fuel_names[FUEL_COUNT];
extern const char *const cp_drive_codes[DRIVE_COUNT];
extern const char *const cp_drive_names[DRIVE_COUNT];

/* Interior colours; "None" included as the site shows it. */
extern const char *const cp_interiors[];
extern const size_t cp_ninteriors;

/* Major options in the order the site lists them, with how much each
 * depends on trim level (0 = everyone, 1 = top trims only). */
typedef struct {
    const char *name;
    double base; /* probability at the lowest trim */
    double top;  /* probability at the highest trim */
    uint8_t lux; /* 1: more likely on premium makes */
} cp_option_t;
extern const cp_option_t cp_options[];
extern const size_t cp_noptions;

/* Name parts for dealers. */
extern const char *const cp_surnames[];
extern const size_t cp_nsurnames;
extern const char *const cp_dealer_words[];
extern const size_t cp_ndealer_words;

/* Description phrases. Each list is plain text; the generator joins them.
 * Some contain commas, inch marks (") and quoted slogans on purpose. */
extern const char *const cp_desc_openers[];
extern const size_t cp_ndesc_openers;
extern const char *const cp_desc_middles[];
extern const size_t cp_ndesc_middles;
extern const char *const cp_desc_closers[];
extern const size_t cp_ndesc_closers;
extern const char *const cp_desc_features[];
extern const size_t cp_ndesc_features;

#endif
