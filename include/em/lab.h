/* What student code may use from libem besides the lab's own header: the TODO marker.
 *
 * Each unfinished spot in a skeleton calls EM_TODO("what to write"). The checker clears the marker
 * before it runs your function and reads it after: a case that fails with a TODO still in the path
 * is reported as "not done yet" with the file and line, instead of a wall of wrong numbers.
 * Delete the EM_TODO line when you write the code it describes.
 */
#ifndef EM_LAB_H
#define EM_LAB_H

#ifdef __cplusplus
extern "C" {
#endif

#define EM_TODO(what) em_todo(__FILE__, __LINE__, (what))

/* Records the first TODO reached since em_todo_reset() (thread-safe; later ones are ignored). */
void em_todo(const char *file, int line, const char *what);
void em_todo_reset(void);

/* 1 and the recorded place if a TODO was reached since the last reset, else 0. */
int em_todo_reached(const char **file, int *line, const char **what);

#ifdef __cplusplus
}
#endif
#endif /* EM_LAB_H */
