/**
 * Profile photos -> WordPress avatars, for jobs with `photos: true`. After a user is applied, its
 * photo is asked for when due (src/core/photo.ts: on create, update or reactivate, else once a
 * week, since delta queries do not report photo changes), and sent to WordPress only when its hash
 * differs from what was last put there: an unchanged photo costs no WordPress request.
 */
import { coerceError } from "../core/errors";
import { photoDue, photoHash, photoProblem } from "../core/photo";
import { photoRecordOf, recordPhoto } from "../db/user-photos";
import type { StepContext } from "./step-context";

export async function syncPhoto(ctx: StepContext, entraId: string, wpUserId: number, userChanged: boolean) {
  const { job, deps } = ctx;
  try {
    const record = await photoRecordOf(deps.db.pool, job.id, entraId);
    if (!photoDue(record?.checkedAt ?? null, userChanged, Date.now())) return;
    const photo = await deps.directory.fetchPhoto(entraId, ctx.budget);
    const problem = photo === null ? null : photoProblem(photo);
    if (problem) ctx.log.warn({ entraId }, `profile photo not used as avatar: ${problem}`);
    // A photo that is not acceptable counts as none: WordPress shows its default.
    const usable = photo !== null && problem === null ? photo : null;
    const hash = usable === null ? null : photoHash(usable);
    const before = record?.hash ?? null;
    const written = hash === before || (await deps.site.setAvatar(wpUserId, usable));
    await recordPhoto(deps.db.pool, job.id, entraId, written ? hash : before);
  } catch (error) {
    // The user's fields are written; the photo is tried again at the next run (nothing recorded).
    ctx.log.warn({ err: coerceError(error), entraId }, "profile photo not synced");
  }
}
