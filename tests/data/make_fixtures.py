"""Writes the generated test fixtures (SRT with 100+ cues, 20 KB unpunctuated transcript).

The phrases are written by hand for lingxi; generation only lays them out, with a fixed seed.
Run from this folder: python make_fixtures.py
"""

import random

PHRASES = [
    "今天我们来做一道红烧肉", "首先把五花肉切成三厘米见方的块", "冷水下锅加姜片和料酒焯水", "水开之后撇掉浮沫再煮两分钟",
    "捞出来用温水洗干净", "千万不要用冷水冲不然肉会变柴", "锅里放一点点油小火炒糖色", "冰糖慢慢融化变成焦糖色",
    "这个时候马上把肉倒进去翻炒", "让每一块肉都裹上糖色", "然后加入生抽老抽和一小块桂皮", "再放两个八角和几片香叶",
    "加开水没过肉大火烧开", "转小火盖上盖子炖一个小时", "中间记得翻动一下防止粘锅", "最后大火收汁汤汁变得浓稠就可以出锅了",
    "有朋友问能不能用高压锅", "可以的高压锅上汽之后压二十分钟", "但是口感会比慢炖的软烂一点", "我个人更喜欢砂锅慢慢炖出来的",
    "还有人问为什么我的红烧肉发苦", "那一般是糖色炒过头了", "糖色只要变成琥珀色就要下肉", "颜色太深就会有苦味",
    "好我们看一下弹幕", "这位朋友说家里没有冰糖", "白砂糖也可以只是颜色没那么亮", "另外五花肉一定要选肥瘦相间的",
    "三层或者五层的最好", "买的时候按一下肉皮有弹性的比较新鲜", "接下来我们再讲一个配菜", "红烧肉里面可以加鹌鹑蛋或者土豆",
    "土豆要最后二十分钟再放", "不然炖久了会散掉", "鹌鹑蛋煮熟剥壳之后炸一下表皮更香", "那今天的直播就先到这里",
    "喜欢的朋友点个关注", "我们明天晚上八点再见", "嗯那个对就是这样", "然后呢我们继续往下讲",
]


def transcript(path: str, target_bytes: int = 20_500) -> None:
    rng = random.Random(7)
    parts: list[str] = []
    size = 0
    while size < target_bytes:
        p = rng.choice(PHRASES)
        # ASR output: usually a pause-space between phrases, sometimes none at all, newline rarely.
        sep = rng.choices([" ", "", "\n"], weights=[6, 3, 1])[0]
        parts.append(p + sep)
        size += len((p + sep).encode())
    open(path, "w", encoding="utf-8").write("".join(parts).strip() + "\n")


CUES = (
    "各位同学好|今天这节课|我们讲|光合作用|植物的叶子|为什么是绿的|因为叶绿素|吸收了|红光和蓝光|把绿光|反射了回来|"
    "光合作用|分成两个阶段|第一个阶段|叫光反应|发生在|类囊体膜上|水被分解|释放出氧气|同时产生|ATP|和NADPH|"
    "第二个阶段|叫暗反应|也叫|卡尔文循环|发生在|叶绿体基质里|二氧化碳|被固定下来|最后合成|葡萄糖|"
    "这里有一个|常见的误区|暗反应|并不是|只在晚上|进行的|它只是|不直接|需要光|白天|一样在进行|"
    "那我们来看|一个实验|把植物|放在|密闭的玻璃罩里|一段时间后|点燃的蜡烛|还能继续燃烧|说明|植物|放出了氧气|"
    "这就是|普利斯特利|在一七七一年|做的|著名实验|好|我们再来|做几道题|第一题|影响光合作用|速率的因素|有哪些|"
    "答案是|光照强度|二氧化碳浓度|和温度|第二题|为什么|大棚里|要在晚上|降低温度|因为|晚上|没有光合作用|"
    "降低温度|可以减少|呼吸作用|消耗的有机物|最后|留一个|思考题|如果|把植物|放在|绿光下|它的|光合作用|会怎样|"
    "提示|想一想|叶子|为什么|是绿的|今天的课|就到这里|大家回去|把课本|第五章|复习一下|下课"
).split("|")


def srt(path: str) -> None:
    rng = random.Random(11)
    out = []
    t = 0.8
    for i, cue in enumerate(CUES, 1):
        d = round(0.3 * len(cue) + 0.5, 3)
        gap = 2.6 if cue in ("下课", "反射了回来", "只在晚上", "放出了氧气", "消耗的有机物") else rng.choice([0.1, 0.2, 0.3])
        out.append(f"{i}\n{clock(t)} --> {clock(t + d)}\n{cue}\n")
        t = round(t + d + gap, 3)
    open(path, "w", encoding="utf-8").write("\n".join(out))


def clock(x: float) -> str:
    ms = int(round(x * 1000))
    return f"{ms // 3600000:02d}:{ms // 60000 % 60:02d}:{ms // 1000 % 60:02d},{ms % 1000:03d}"


if __name__ == "__main__":
    transcript("cooking-live-asr.txt")
    srt("photosynthesis-class.srt")
