/* chat_meta.c — generation metadata of a loaded model that lives outside the weights
 * (xfmr.h, "text generation helpers"): the chat template text (tokenizer_config.json
 * "chat_template" or GGUF tokenizer.chat_template) and the end-of-sequence id
 * (generation_config.json / config.json eos_token_id, or GGUF tokenizer.ggml.eos_token_id).
 * Nothing is cached in the model: the template text is returned in a thread-local buffer that
 * each call replaces (and that is released at thread exit). */
#include <dirent.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/file.h"
#include "core/json.h"
#include "io/gguf.h"
#include "model/model.h"

static pthread_key_t g_key;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static int g_key_ok;

static void make_key(void) { g_key_ok = pthread_key_create(&g_key, free) == 0; }

/* Replace this thread's buffer by s (owned from now on); returns s. */
static const char *keep(char *s) {
    pthread_once(&g_once, make_key);
    if (!g_key_ok) {
        free(s);
        return NULL;
    }
    free(pthread_getspecific(g_key));
    if (pthread_setspecific(g_key, s) != 0) {
        free(s);
        return NULL;
    }
    return s;
}

static int ends_with(const char *s, const char *suffix) {
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && !strcmp(s + a - b, suffix);
}

/* The GGUF file a model was loaded from (heap string), or NULL: the path itself when it ends in
 * .gguf, else the folder's only .gguf when it has no .safetensors. */
static char *gguf_file_of(const char *path) {
    if (!path) return NULL;
    if (ends_with(path, ".gguf") && xf_is_file(path)) return xf_strdup(path);
    if (!xf_is_dir(path)) return NULL;
    DIR *d = opendir(path);
    if (!d) return NULL;
    char *found = NULL;
    int n_gguf = 0, n_st = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (ends_with(e->d_name, ".safetensors")) n_st++;
        else if (ends_with(e->d_name, ".gguf") && n_gguf++ == 0) found = xf_path_join(path, e->d_name);
    }
    closedir(d);
    if (n_gguf != 1 || n_st != 0) {
        free(found);
        return NULL;
    }
    return found;
}

static char *template_from_json(const char *dir) {
    char *file = xf_path_join(dir, "tokenizer_config.json");
    cJSON *root = NULL;
    char *out = NULL;
    if (file && xf_is_file(file) && xf_json_load(file, &root) == XF_OK) {
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(root, "chat_template");
        if (cJSON_IsString(t)) {
            out = xf_strdup(t->valuestring);
        } else if (cJSON_IsArray(t)) {
            const cJSON *it;
            cJSON_ArrayForEach(it, t) {
                const cJSON *name = cJSON_GetObjectItemCaseSensitive(it, "name");
                const cJSON *text = cJSON_GetObjectItemCaseSensitive(it, "template");
                if (cJSON_IsString(name) && !strcmp(name->valuestring, "default") && cJSON_IsString(text)) {
                    out = xf_strdup(text->valuestring);
                    break;
                }
            }
        }
    }
    cJSON_Delete(root);
    free(file);
    return out;
}

static char *template_from_gguf(const char *file) {
    xf_gguf *g = NULL;
    char *out = NULL;
    const char *s;
    size_t len;
    if (xf_gguf_open(file, &g) == XF_OK && xf_gguf_get_str(g, "tokenizer.chat_template", &s, &len) == XF_OK &&
        (out = xf_malloc(len + 1)) != NULL) {
        memcpy(out, s, len);
        out[len] = '\0';
    }
    xf_gguf_close(g);
    return out;
}

const char *xf_model_chat_template(const xf_model *m) {
    if (!m || !m->path) return NULL;
    char *gguf = gguf_file_of(m->path), *text;
    if (gguf) text = template_from_gguf(gguf);
    else text = xf_is_dir(m->path) ? template_from_json(m->path) : NULL;
    free(gguf);
    return text ? keep(text) : NULL;
}

/* eos_token_id of a JSON file in dir (first entry of a list), or -1. */
static int32_t eos_from_json(const char *dir, const char *name) {
    char *file = xf_path_join(dir, name);
    cJSON *root = NULL;
    int32_t id = -1;
    if (file && xf_is_file(file) && xf_json_load(file, &root) == XF_OK) {
        const cJSON *e = cJSON_GetObjectItemCaseSensitive(root, "eos_token_id");
        if (cJSON_IsArray(e)) e = cJSON_GetArrayItem(e, 0);
        if (cJSON_IsNumber(e) && e->valuedouble >= 0 && e->valuedouble < 2147483647.0) id = (int32_t)e->valuedouble;
    }
    cJSON_Delete(root);
    free(file);
    return id;
}

int32_t xf_model_eos_id(const xf_model *m) {
    if (!m || !m->path) return -1;
    int32_t id = -1;
    char *gguf = gguf_file_of(m->path);
    if (gguf) {
        xf_gguf *g = NULL;
        uint64_t v;
        if (xf_gguf_open(gguf, &g) == XF_OK && xf_gguf_get_uint(g, "tokenizer.ggml.eos_token_id", &v) == XF_OK &&
            v < 2147483647u)
            id = (int32_t)v;
        xf_gguf_close(g);
        free(gguf);
    } else if (xf_is_dir(m->path)) {
        id = eos_from_json(m->path, "generation_config.json");
        if (id < 0) id = eos_from_json(m->path, "config.json");
    }
    if (id >= 0 && (size_t)id >= m->cfg.vocab_size) id = -1;
    return id;
}
