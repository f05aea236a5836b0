/* main.c — xfmr command-line entry point (being written). */
#include <stdio.h>
#include "xfmr.h"
int main(void) { printf("xfmr %s\n", xf_version()); return 0; }
